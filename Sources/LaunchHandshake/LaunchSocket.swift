import CLinux
import Glibc

/// The unix socket of one launch. Its file is in the state directory (private to mcrun's
/// user); a path too long for `sun_path` is reached through the directory's descriptor in
/// /proc/self/fd, so the state directory's length does not matter.
public enum LaunchSocket {
    /// Listens at `path` (replacing a stale file). Returns the descriptor, or errno.
    public static func listen(at path: String) -> Result<Int32, Errno> {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(Errno(errno)) }
        unlink(path)
        let bound = withAddress(path) { address, length in bind(fd, address, length) }
        guard bound == 0, Glibc.listen(fd, 4) == 0 else {
            let error = Errno(errno)
            close(fd)
            return .failure(error)
        }
        return .success(fd)
    }

    /// Connects to the launcher listening at `path`. Returns the descriptor, or errno.
    public static func connect(to path: String) -> Result<Int32, Errno> {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(Errno(errno)) }
        var rc: Int32
        repeat {
            rc = withAddress(path) { address, length in Glibc.connect(fd, address, length) }
        } while rc != 0 && errno == EINTR
        guard rc == 0 else {
            let error = Errno(errno)
            close(fd)
            return .failure(error)
        }
        return .success(fd)
    }

    /// Accepts one waiting connection: its descriptor (close-on-exec), or -1.
    public static func accept(_ listener: Int32) -> Int32 {
        let fd = Glibc.accept(listener, nil, nil)
        if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return fd
    }

    /// The kernel's word on who is at the other end: process id and user id.
    public static func peer(_ fd: Int32) -> (pid: Int32, uid: UInt32)? {
        var pid: pid_t = 0
        var uid: uid_t = 0
        guard mcrun_peer_credentials(fd, &pid, &uid) == 0 else { return nil }
        return (pid, uid)
    }

    /// Bounds every later read and write on `fd` (0 removes the bound).
    public static func setTimeout(_ fd: Int32, milliseconds: Int) {
        var limit = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        let size = socklen_t(MemoryLayout<timeval>.size)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, size)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, size)
    }

    private static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var directory: Int32 = -1
        var target = path
        var address = sockaddr_un()
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        if path.utf8.count >= capacity, let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) {
            let parent = String(path[..<slash])
            directory = open(parent.isEmpty ? "/" : parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            target = "/proc/self/fd/\(directory)/" + String(path[path.index(after: slash)...])
        }
        defer { if directory >= 0 { close(directory) } }
        let bytes = Array(target.utf8)
        guard bytes.count < capacity else {
            errno = ENAMETOOLONG
            return -1
        }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}

/// An errno value with its text.
public struct Errno: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Int32
    public init(_ code: Int32) { self.code = code }
    public var description: String { String(cString: strerror(code)) }
}

/// PATH lookup as execvp does it, but against the agent's PATH rather than ours.
public enum ProgramLookup {
    public static func resolve(_ name: String, path: String?, cwd: String) -> String? {
        if name.contains("/") {
            let full = name.hasPrefix("/") ? name : cwd + "/" + name
            return isExecutableFile(full) ? full : nil
        }
        let search = path ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in search.split(separator: ":", omittingEmptySubsequences: false) {
            let base = dir.isEmpty ? cwd : (dir.hasPrefix("/") ? String(dir) : cwd + "/" + dir)
            let candidate = base + "/" + name
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    public static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(path, X_OK) == 0
    }
}
