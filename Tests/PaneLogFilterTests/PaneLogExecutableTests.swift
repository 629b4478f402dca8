import Foundation
import Testing

/// Runs the built `mcrun-pane-log` as a real process, the way tmux does.
@Suite("mcrun-pane-log, the executable")
final class PaneLogExecutableTests {
    let scratch: URL

    init() throws {
        // A pump that exited early must fail the test with EPIPE, not kill the runner.
        signal(SIGPIPE, SIG_IGN)
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pane-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: scratch)
    }

    func path(_ name: String) -> String { scratch.appendingPathComponent(name).path }

    func contents(_ name: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path(name)).map(Array.init)
    }

    func text(_ name: String) -> String? { contents(name).map { String(decoding: $0, as: UTF8.self) } }

    @Test func writesTheTranscriptAtEndOfInput() async throws {
        let pump = try PaneLogProcess(arguments: [path("pane.log")])
        try pump.send("\u{1B}[1;32mok\u{1B}[0m\r\n\rspin 1\rspin 2\r\u{1B}[Kdone\r\n")
        let status = try await pump.finish()
        #expect(status == 0, "stderr: \(pump.errorOutput)")
        #expect(text("pane.log") == "ok\ndone\n")
        let mode = try FileManager.default.attributesOfItem(atPath: path("pane.log"))[.posixPermissions] as? Int
        #expect(mode == 0o640, "transcripts are readable by the operators' group, never by others")
        #expect(contents("pane.log.raw") == nil, "no raw log unless asked")
    }

    @Test func idleInputIsFlushedWithoutWaitingForMore() async throws {
        let pump = try PaneLogProcess(arguments: [path("pane.log")])
        try pump.send("first line\r\nprompt> ")
        let seen = await eventually { text("pane.log") == "first line\nprompt>" }
        #expect(seen, "after going idle the pending lines should be in the log; it has \(String(reflecting: text("pane.log")))")
        try pump.send("yes\r\n")
        #expect(try await pump.finish() == 0)
        #expect(text("pane.log") == "first line\nprompt> yes\n", "the open line is continued, not repeated")
    }

    @Test func settledLinesReachTheLogWhileASpinnerNeverRests() async throws {
        let pump = try PaneLogProcess(arguments: [path("pane.log")])
        try pump.send("real output\r\n")
        let frames = Array("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
        var frame = 0
        let deadline = ContinuousClock.now + .seconds(10)
        // Frames every 30 ms keep the input from being idle for 300 ms.
        while text("pane.log")?.hasPrefix("real output\n") != true && ContinuousClock.now < deadline {
            try pump.send("\r\(frames[frame % frames.count]) Working (\(frame))")
            frame += 1
            try await Task.sleep(for: .milliseconds(30))
        }
        #expect(
            text("pane.log")?.hasPrefix("real output\n") == true,
            "lines above a busy spinner must not wait for idleness; the log has \(String(reflecting: text("pane.log")))")
        try pump.send("\r\u{1B}[2K")
        #expect(try await pump.finish() == 0)
    }

    @Test func rotatesAtMaxBytesKeepingKFiles() async throws {
        let pump = try PaneLogProcess(arguments: ["--max-bytes", "2000", "--keep", "2", path("pane.log")])
        let lines = (1...400).map { "line \($0): the quick brown fox\n" }
        try pump.send(lines.map { $0.replacingOccurrences(of: "\n", with: "\r\n") }.joined())
        #expect(try await pump.finish() == 0, "stderr: \(pump.errorOutput)")

        var kept: [String] = []
        for name in ["pane.log.2", "pane.log.1", "pane.log"] {
            let file = try #require(text(name), "\(name) should exist")
            #expect(file.utf8.count <= 2000, "\(name) has \(file.utf8.count) bytes")
            #expect(file.hasSuffix("\n") && file.hasPrefix("line "), "\(name) should hold whole lines")
            let mode = try FileManager.default.attributesOfItem(atPath: path(name))[.posixPermissions] as? Int
            #expect(mode == 0o640, "\(name) mode")
            kept.append(file)
        }
        #expect(contents("pane.log.3") == nil, "only --keep 2 rotated files")
        let joined = kept.joined()
        #expect(lines.joined().hasSuffix(joined), "the kept files are the newest lines, in order")
        #expect(joined.utf8.count > 4000, "three files' worth was kept")
    }

    @Test func keepZeroTruncatesInPlace() async throws {
        let pump = try PaneLogProcess(arguments: ["--max-bytes=1K", "--keep=0", path("pane.log")])
        try pump.send(String(repeating: "0123456789abcdef0123456789\r\n", count: 200))
        #expect(try await pump.finish() == 0)
        let file = try #require(text("pane.log"))
        #expect(file.utf8.count <= 1024 && !file.isEmpty)
        #expect(contents("pane.log.1") == nil)
    }

    @Test func rawStreamIsKeptWhenAsked() async throws {
        let raw = try RecordedSessionTests.fixture("agent-session.raw")
        let pump = try PaneLogProcess(arguments: ["--raw", path("pane.log")])
        try pump.send(raw)
        #expect(try await pump.finish() == 0)
        #expect(contents("pane.log.raw") == raw, "the raw log holds the bytes exactly")
        #expect(contents("pane.log") == (try RecordedSessionTests.fixture("agent-session.log")))
    }

    @Test func rawStreamIsBoundedTheSameWay() async throws {
        let raw = try RecordedSessionTests.fixture("agent-session.raw")
        let pump = try PaneLogProcess(arguments: ["--raw", "--max-bytes", "10000", "--keep", "1", path("pane.log")])
        try pump.send(raw)
        #expect(try await pump.finish() == 0)
        let newest = try #require(contents("pane.log.raw"))
        let older = try #require(contents("pane.log.raw.1"))
        #expect(newest.count <= 10000 && older.count == 10000)
        #expect(contents("pane.log.raw.2") == nil)
        #expect(raw.suffix(older.count + newest.count).elementsEqual(older + newest))
    }

    @Test func writeErrorsAreReportedOnceAndInputIsStillDrained() async throws {
        // /dev/full fails every write with ENOSPC.
        let pump = try PaneLogProcess(arguments: ["/dev/full"])
        let line = Array(repeating: UInt8(ascii: "x"), count: 99) + [0x0A]
        for _ in 0..<10_000 { try pump.send(line) }  // 1 MB, far more than a pipe holds
        let status = try await pump.finish()
        #expect(status == 1, "a failed write is reported in the exit status")
        let complaints = pump.errorOutput.split(separator: "\n")
        #expect(complaints.count == 1, "one stderr line, got: \(pump.errorOutput)")
        #expect(complaints.first?.contains("/dev/full") == true)
    }

    @Test func terminationSignalStillWritesPendingLines() async throws {
        let pump = try PaneLogProcess(arguments: [path("pane.log")])
        try pump.send("alpha\r\nbeta")
        _ = await eventually { text("pane.log") == "alpha\nbeta" }
        pump.process.terminate()
        let status = try await pump.wait()
        #expect(pump.process.terminationReason == .exit && status == 0, "SIGTERM ends it cleanly")
        #expect(text("pane.log") == "alpha\nbeta\n", "the open line is closed")
    }

    @Test(arguments: [
        [],
        ["a.log", "b.log"],
        ["--max-bytes", "0", "a.log"],
        ["--max-bytes", "lots", "a.log"],
        ["--keep", "-1", "a.log"],
        ["--max-bytes"],
        ["--bogus", "a.log"],
        ["--raw=yes", "a.log"],
    ])
    func badUsageExitsTwoWithOneLine(arguments: [String]) async throws {
        let pump = try PaneLogProcess(arguments: arguments, in: scratch)
        let status = try await pump.finish()
        #expect(status == 2)
        let lines = pump.errorOutput.split(separator: "\n")
        #expect(lines.count == 1 && lines.first?.contains("usage: mcrun-pane-log") == true, "\(pump.errorOutput)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty, "nothing written")
    }
}

/// Waits for `condition`, checking every 10 ms, for at most `timeout`.
func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return true
}

/// The built `mcrun-pane-log` with a pipe on its stdin.
final class PaneLogProcess {
    let process = Process()
    private let input = Pipe()
    private let errors = Pipe()
    private(set) var errorOutput = ""

    /// The executable is built into the same directory as this test binary.
    static func executable() throws -> URL {
        let testBinary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let candidate = URL(fileURLWithPath: testBinary).deletingLastPathComponent()
            .appendingPathComponent("mcrun-pane-log")
        guard FileManager.default.isExecutableFile(atPath: candidate.path) else {
            throw NotBuilt(path: candidate.path)
        }
        return candidate
    }

    struct NotBuilt: Error, CustomStringConvertible {
        let path: String
        var description: String { "mcrun-pane-log is not built at \(path): run swift build first" }
    }

    init(arguments: [String], in directory: URL? = nil) throws {
        process.executableURL = try Self.executable()
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        try input.fileHandleForWriting.write(contentsOf: bytes)
    }

    /// Closes stdin (EOF, as when the pane closes) and waits for the exit status.
    func finish() async throws -> Int32 {
        try input.fileHandleForWriting.close()
        return try await wait()
    }

    func wait(timeout: Duration = .seconds(10)) async throws -> Int32 {
        let exited = await eventually(timeout: timeout) { !process.isRunning }
        if !exited {
            kill(process.processIdentifier, SIGKILL)
            throw StillRunning()
        }
        errorOutput = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return process.terminationStatus
    }

    struct StillRunning: Error, CustomStringConvertible {
        var description: String { "mcrun-pane-log did not exit within the time allowed" }
    }
}
