import Glibc

/// The fields of `/proc/PID/stat` mcrun relies on.
public struct ProcStat: Sendable, Equatable {
    public var pid: Int32
    public var state: UInt8
    public var ppid: Int32
    public var processGroup: Int32
    public var session: Int32
    /// Clock ticks since boot; with the PID and the boot id it names one process forever.
    public var startTime: UInt64

    /// Zombies and dead entries have exited; only reaping is missing.
    public var hasExited: Bool { state == UInt8(ascii: "Z") || state == UInt8(ascii: "X") || state == UInt8(ascii: "x") }
}

/// Reads the kernel's process table. Plain read(2) calls: this runs for every process on
/// the host during a leftover scan, so it stays cheap.
public enum ProcFS {
    public static func readFile(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while out.count < limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// Parses `/proc/PID/stat`. The command name may contain spaces and parentheses, so the
    /// fields are read after the last `)`.
    public static func stat(_ pid: Int32) -> ProcStat? {
        guard let bytes = readFile("/proc/\(pid)/stat", limit: 4096) else { return nil }
        return parseStat(bytes, pid: pid)
    }

    static func parseStat(_ bytes: [UInt8], pid: Int32) -> ProcStat? {
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // After the name: state(3) ppid(4) pgrp(5) session(6) ... starttime(22). Only the
        // first twenty fields are looked at, in one pass without copying.
        var fields: [Range<Int>] = []
        fields.reserveCapacity(20)
        var i = close + 1
        while fields.count < 20 && i < bytes.count {
            while i < bytes.count && bytes[i] == UInt8(ascii: " ") { i += 1 }
            let start = i
            while i < bytes.count && bytes[i] != UInt8(ascii: " ") { i += 1 }
            if i > start { fields.append(start..<i) }
        }
        guard fields.count >= 20,
            let ppid = Int32(decoding: bytes[fields[1]]), let pgrp = Int32(decoding: bytes[fields[2]]),
            let session = Int32(decoding: bytes[fields[3]]), let start = UInt64(decoding: bytes[fields[19]])
        else { return nil }
        return ProcStat(pid: pid, state: bytes[fields[0].lowerBound], ppid: ppid, processGroup: pgrp, session: session, startTime: start)
    }

    /// The `Threads:` count of /proc/PID/status; 0 when unreadable.
    public static func threadCount(_ pid: Int32) -> Int {
        guard let bytes = readFile("/proc/\(pid)/status", limit: 16384) else { return 0 }
        for line in bytes.split(separator: UInt8(ascii: "\n")) where line.starts(with: Array("Threads:".utf8)) {
            let digits = line.dropFirst("Threads:".utf8.count).filter { $0 >= 0x30 && $0 <= 0x39 }
            return Int(decoding: ArraySlice(digits)) ?? 0
        }
        return 0
    }

    public static func bootID() -> String? {
        guard let bytes = readFile("/proc/sys/kernel/random/boot_id", limit: 128) else { return nil }
        let id = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
        return id.isEmpty ? nil : id
    }

    public static func allPIDs() -> [Int32] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var pids: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if let pid = Int32(name) { pids.append(pid) }
        }
        return pids
    }

    /// NUL-separated `KEY=VALUE` entries; nil when the process is gone or not ours to read.
    public static func environ(_ pid: Int32) -> [[UInt8]]? {
        guard let bytes = readFile("/proc/\(pid)/environ") else { return nil }
        return bytes.split(separator: 0).map(Array.init)
    }

    public static func cmdline(_ pid: Int32) -> [String]? {
        guard let bytes = readFile("/proc/\(pid)/cmdline") else { return nil }
        return bytes.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
    }
}

extension FixedWidthInteger {
    init?(decoding digits: ArraySlice<UInt8>) {
        guard !digits.isEmpty else { return nil }
        var value: Self = 0
        var negative = false
        for (i, d) in digits.enumerated() {
            if i == 0 && d == UInt8(ascii: "-") && Self.isSigned {
                negative = true
                continue
            }
            guard d >= 0x30 && d <= 0x39 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Self(d - 0x30))
            guard !o1 && !o2 else { return nil }
            value = a
        }
        self = negative ? 0 - value : value
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        var start = scalars.startIndex
        var end = scalars.endIndex
        while start < end, scalars[start].properties.isWhitespace { start = scalars.index(after: start) }
        while end > start, scalars[scalars.index(before: end)].properties.isWhitespace { end = scalars.index(before: end) }
        return String(scalars[start..<end])
    }
}
