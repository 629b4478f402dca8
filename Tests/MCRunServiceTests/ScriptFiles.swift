import Glibc
import MCRunTestSupport

extension Scratch {
    /// Writes an executable script through a close-on-exec descriptor. A plain write can leak
    /// its descriptor into a process another test spawns at that moment (a tmux server lives
    /// on), and exec of the script then fails with ETXTBSY.
    func script(_ name: String, _ text: String) throws -> String {
        let p = path(name)
        let fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw ScratchError("cannot create \(p): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw ScratchError("cannot write \(p)")
        }
        return p
    }
}
