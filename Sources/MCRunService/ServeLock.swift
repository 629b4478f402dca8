import Glibc
public import MCRunCore

/// One `mcrun serve` per state directory: an exclusive flock on `serve.lock`, held for the
/// life of the process (the kernel drops it on any exit, even SIGKILL). The file holds the
/// holder's PID so a refused second instance can say who has it.
public final class ServeLock: Sendable {
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    public static func acquire(_ directory: StateDirectory) throws(MCRunError) -> ServeLock {
        let path = directory.serveLockPath
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw .internalError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let failure = errno
            let holder = readHolder(fd)
            close(fd)
            guard failure == EWOULDBLOCK else {
                throw .internalError("cannot lock \(path): \(String(cString: strerror(failure)))")
            }
            throw MCRunError(
                .busy, "already_running",
                "another mcrun serve\(holder.map { " (pid \($0))" } ?? "") already supervises \(directory.path); stop it first, or use another --state-dir")
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return ServeLock(fd: fd)
    }

    private static func readHolder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self).split(whereSeparator: \.isWhitespace).first.flatMap { Int32($0) }
    }
}
