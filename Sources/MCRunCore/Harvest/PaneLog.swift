import Glibc

/// Reading the pane logs the `pane-log` hook writes: `LOG` (clean text), rotated to
/// `LOG.1`, `LOG.2`...; with `--raw`, `LOG.raw` beside it.
public enum PaneLog {
    public static let defaultTailLines = 50

    public static func rawPath(_ log: String) -> String { log + ".raw" }

    /// The last `lines` lines across the live file and, when it is short, its rotations.
    public static func tail(_ path: String, lines: Int, maxBytes: Int = 1 << 20) -> [String] {
        guard lines > 0 else { return [] }
        var collected: [String] = []
        for (i, file) in ([path] + (1...3).map { "\(path).\($0)" }).enumerated() {
            guard let bytes = readTail(file, maxBytes: maxBytes) else {
                if i == 0 { continue } else { break }
            }
            var fileLines = Self.lines(bytes)
            if fileLines.count > lines - collected.count { fileLines = Array(fileLines.suffix(lines - collected.count)) }
            collected = fileLines + collected
            if collected.count >= lines { break }
        }
        return collected
    }

    /// Lines of `bytes`: a missing final newline still ends a line; invalid UTF-8 is repaired.
    public static func lines(_ bytes: [UInt8]) -> [String] {
        var out: [String] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == 0x0A {
            out.append(String(decoding: bytes[start..<i], as: UTF8.self))
            start = i + 1
        }
        if start < bytes.count { out.append(String(decoding: bytes[start...], as: UTF8.self)) }
        return out
    }

    /// Up to `maxBytes` from the end of the file, starting after a newline when cut.
    static func readTail(_ path: String, maxBytes: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let size = Int(lseek(fd, 0, SEEK_END))
        guard size >= 0 else { return nil }
        let start = max(0, size - maxBytes)
        var buffer = [UInt8](repeating: 0, count: size - start)
        var got = 0
        while got < buffer.count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, $0.count - got, off_t(start + got)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            got += n
        }
        var bytes = Array(buffer[0..<got])
        if start > 0, let nl = bytes.firstIndex(of: 0x0A) { bytes.removeFirst(nl + 1) }
        return bytes
    }

    /// Seconds since the epoch of the log's last write, or nil without a log.
    public static func lastWrite(_ path: String) -> Double? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
    }

    /// The processes writing `path`: the hook tmux started for the pane (its argv names the log).
    public static func writers(_ path: String) -> [Int32] {
        let me = getpid()
        return ProcFS.allPIDs().filter { pid in
            guard pid != me, let argv = ProcFS.cmdline(pid), argv.contains(path) else { return false }
            return ProcFS.stat(pid).map { !$0.hasExited } ?? false
        }
    }

    /// Waits, bounded, until the hook that writes `path` has exited: it writes its last
    /// pending line when the pane closes, so a tail read earlier could miss the last words.
    @discardableResult
    public static func awaitWriters(_ path: String, timeoutMilliseconds: Int) -> Bool {
        let deadline = Instant.after(milliseconds: timeoutMilliseconds)
        while !writers(path).isEmpty {
            if deadline.hasPassed { return false }
            usleep(10_000)
        }
        return true
    }
}
