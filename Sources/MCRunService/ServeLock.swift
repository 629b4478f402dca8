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

extension ServeLock {
    /// The PID of the `serve` holding the state directory's lock, read from /proc/locks
    /// without touching the lock (a probe that took it, even shared, could make a starting
    /// serve fail); nil when none holds it.
    public static func holder(_ directory: StateDirectory) -> Int32? {
        var st = stat()
        guard stat(directory.serveLockPath, &st) == 0, let locks = ProcFS.readFile("/proc/locks", limit: 1 << 20) else { return nil }
        let dev = UInt64(st.st_dev)
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
        let minor = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
        func hex(_ n: UInt64) -> String {
            let digits = String(n, radix: 16)
            return digits.count < 2 ? "0" + digits : digits
        }
        let wanted = "\(hex(major)):\(hex(minor)):\(UInt64(st.st_ino))"
        for line in String(decoding: locks, as: UTF8.self).split(separator: "\n") {
            // "1: FLOCK  ADVISORY  WRITE 1234 08:01:56789 0 EOF"; blocked waiters start with "->".
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK", fields[3] == "WRITE", fields[5] == wanted else { continue }
            return Int32(fields[4])
        }
        return nil
    }
}
