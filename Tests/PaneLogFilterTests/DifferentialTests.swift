import Foundation
import Glibc
import PaneLogFilter
import Testing

/// The transcript against tmux itself: a stream is played in a real pane of a
/// private tmux server, and every line tmux keeps of it (its scrollback and
/// the screen left at the end, wrapped lines joined) must be in the
/// transcript of what the pane printed, once and in order.
@Suite("Differential: transcripts against tmux's scrollback")
final class DifferentialTests {
    let scratch: URL

    init() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pane-diff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        try "set -g history-limit 100000\n".write(to: scratch.appendingPathComponent("tmux.conf"), atomically: true, encoding: .utf8)
    }

    deinit {
        try? FileManager.default.removeItem(at: scratch)
    }

    /// What tmux made of a stream: the lines it keeps, and the bytes the pane
    /// printed as `pipe-pane` hands them to the hook (after the pty's `onlcr`).
    struct Played {
        var kept: [String]
        var printed: [UInt8]
    }

    /// Plays `stream` in a 120×30 pane with `cat`, then prints a title whose
    /// arrival (in the pane's title and in the piped bytes) says tmux has
    /// read everything before it.
    func play(_ stream: [UInt8], name: String) async throws -> Played {
        let file = scratch.appendingPathComponent("\(name).stream")
        let piped = scratch.appendingPathComponent("\(name).piped").path
        let socket = scratch.appendingPathComponent("\(name).sock").path
        let conf = scratch.appendingPathComponent("tmux.conf").path
        try Data(stream).write(to: file)
        let done = "played-\(name)-\(UInt32.random(in: 0...UInt32.max))"
        let server = TmuxServer(socket: socket, conf: conf, scratch: scratch)
        defer { server.kill() }

        // Echo off: replies to the stream's terminal queries must not be echoed onto the screen.
        let script = """
            stty -echo
            tmux -S \(shellQuoted(socket)) wait-for go
            cat \(shellQuoted(file.path))
            printf '\\033]2;%s\\007' \(shellQuoted(done))
            exec sleep 600
            """
        try await server.run(["new-session", "-d", "-x", "\(GeneratedStream.columns)", "-y", "\(GeneratedStream.rows)", "sh", "-c", script])
        try await server.run(["pipe-pane", "-o", "cat > \(shellQuoted(piped))"])
        try await server.run(["wait-for", "-S", "go"])

        let marker = Array(done.utf8)
        var title = ""
        let arrived = await eventually(timeout: .seconds(60)) {
            guard let bytes = FileManager.default.contents(atPath: piped), contains(Array(bytes), marker) else { return false }
            title = (try? server.output(["display-message", "-p", "#{pane_title}"]))?.trimmingCharacters(in: .newlines) ?? ""
            return title == done
        }
        let pipedBytes = FileManager.default.contents(atPath: piped)?.count ?? -1
        let screen = (try? server.output(["capture-pane", "-p"])) ?? ""
        try #require(
            arrived,
            "tmux did not finish reading \(name) within 60 s: pane title \(String(reflecting: title)), \(pipedBytes) bytes piped of \(stream.count), screen:\n\(screen)"
        )
        let capture = try server.output(["capture-pane", "-p", "-J", "-S", "-", "-E", "-"])
        var printed = Array(FileManager.default.contents(atPath: piped) ?? Data())
        let tail = Array("\u{1B}]2;\(done)\u{07}".utf8)
        if printed.count >= tail.count && Array(printed.suffix(tail.count)) == tail { printed.removeLast(tail.count) }
        return Played(kept: textLines(Array(capture.utf8)), printed: printed)
    }

    /// Checks the transcript of what the pane printed against what tmux kept:
    /// read whole, every line in order and at most `allowedExtra` more; and
    /// flushed at seeded random points as an idle pane is, every line in
    /// order but the last `live` ones (a block redrawn in place, which may
    /// have been written before lines were inserted above it).
    func compare(
        _ played: Played, name: String, allowedExtra: Int, live: Int, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(!played.kept.isEmpty, "tmux kept nothing of \(name)", sourceLocation: sourceLocation)
        let lines = textLines(PaneLogFilter.transcript(of: played.printed)).map(expandingTabs)
        if let missing = firstMissing(played.kept, in: lines) {
            Issue.record(
                "\(name): tmux's line \(missing.index) \(String(reflecting: missing.line)) is not in the transcript (in order)",
                sourceLocation: sourceLocation)
        }
        #expect(
            lines.count <= played.kept.count + allowedExtra,
            "\(name): \(lines.count) transcript lines for \(played.kept.count) kept by tmux: redraws flood the log",
            sourceLocation: sourceLocation)

        var generator = SeededGenerator(state: UInt64(played.printed.count))
        var filter = PaneLogFilter()
        var written: [UInt8] = []
        var start = 0
        while start < played.printed.count {
            let end = min(played.printed.count, start + Int.random(in: 1...2000, using: &generator))
            played.printed[start..<end].withUnsafeBytes { filter.feed($0) }
            if Bool.random(using: &generator) { filter.flush() } else { filter.commitSettled() }
            written += filter.takeOutput()
            start = end
        }
        filter.finish()
        written += filter.takeOutput()
        if let missing = firstLost(played.kept, live: live, in: textLines(written).map(expandingTabs)) {
            Issue.record(
                "\(name), flushed: tmux's line \(missing.index) \(String(reflecting: missing.line)) is not in the transcript",
                sourceLocation: sourceLocation)
        }
    }

    static let generated: [(GeneratedStream.Renderer, UInt64)] = GeneratedStream.Renderer.allCases.flatMap { renderer in
        (1...5).map { (renderer, UInt64($0)) }
    }

    @Test("generated stream", arguments: generated)
    func generatedStream(renderer: GeneratedStream.Renderer, seed: UInt64) async throws {
        var choices = Choices(seed: seed)
        let stream = GeneratedStream.make(renderer, choices: &choices, steps: 150)
        let name = "\(renderer.rawValue)-\(seed)"
        let played = try await play(stream.bytes, name: name)
        // The generator's own account of what a terminal keeps is what tmux
        // kept: the fuzzer checks the filter against that account.
        #expect(played.kept == stream.kept, "\(name): tmux kept other lines than the generator says")
        compare(played, name: name, allowedExtra: 0, live: stream.liveLines)
    }

    @Test("the recorded agent session")
    func recordedSession() async throws {
        // tmux 3.3 does not read C1 controls written as UTF-8 (it shows a
        // C1 CSI's parameters as text), the filter reads them as a VT does:
        // tmux is given their 7-bit form.
        var raw: [UInt8] = []
        for byte in try RecordedSessionTests.fixture("agent-session.raw") {
            if byte == 0x9B && raw.last == 0xC2 {
                raw.removeLast()
                raw += [0x1B, UInt8(ascii: "[")]
            } else {
                raw.append(byte)
            }
        }
        let played = try await play(raw, name: "agent-session")
        // The full-screen pager becomes one note line.
        compare(played, name: "agent-session", allowedExtra: 1, live: 0)
    }

    @Test("a Codex viewport inserting history: the incident's 14 lines")
    func codexIncident() async throws {
        // Codex's insert_history with the viewport at the bottom of the
        // screen: each batch goes through the region above the viewport,
        // which is then repainted in place.
        var stream = "codex\r\n" + String(repeating: "\r\n", count: 24)
        let viewport = 26
        func status(_ tick: Int) -> String {
            "\u{1B}[\(viewport);1H• Working (\(tick)s)\u{1B}[K\u{1B}[\(viewport + 2);1H› \u{1B}[K\u{1B}[\(viewport + 4);1H  ⏎ send\u{1B}[K"
        }
        stream += status(0)
        for batch in 0..<7 {
            stream += "\u{1B}[1;\(viewport - 1)r\u{1B}[\(viewport - 1);1H"
            for line in 0..<2 {
                let number = batch * 2 + line + 1
                stream += "\r\n\u{1B}[K" + (number == 14 ? "DONE: all 14 lines" : "history line \(number)")
            }
            stream += "\u{1B}[r"
            for tick in 0..<5 { stream += status(batch * 5 + tick) }
        }
        let played = try await play(Array(stream.utf8), name: "codex-incident")
        let history = (1...13).map { "history line \($0)" } + ["DONE: all 14 lines"]
        #expect(firstMissing(history, in: played.kept) == nil, "tmux keeps the 14 history lines")
        compare(played, name: "codex-incident", allowedExtra: 0, live: 3)
        let lines = textLines(PaneLogFilter.transcript(of: played.printed))
        #expect(lines.filter { $0.hasPrefix("• Working") } == ["• Working (34s)"], "the status block appears once, final")
    }
}

/// A private tmux server on its own socket, for one test.
struct TmuxServer {
    let socket: String
    let conf: String
    let scratch: URL

    /// Runs a tmux command and requires it to succeed within 10 s.
    func run(_ arguments: [String], output: String = "/dev/null") async throws {
        let pid = try spawn(["tmux", "-S", socket, "-f", conf] + arguments, output: output)
        var status: Int32?
        let exited = await eventually(timeout: .seconds(10)) {
            status = reap(pid, blocking: false)
            return status != nil
        }
        guard exited else {
            Glibc.kill(pid, SIGKILL)
            _ = reap(pid, blocking: true)
            throw TmuxFailed(arguments: arguments, reason: "did not return within 10 s")
        }
        guard status == 0 else { throw TmuxFailed(arguments: arguments, reason: "exited with \(status ?? -1)") }
    }

    /// A tmux command's standard output; a blocking wait, bounded by the server answering.
    func output(_ arguments: [String]) throws -> String {
        let file = scratch.appendingPathComponent("out-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let pid = try spawn(["tmux", "-S", socket, "-f", conf] + arguments, output: file)
        guard reap(pid, blocking: true) == 0 else { throw TmuxFailed(arguments: arguments, reason: "failed") }
        return String(decoding: FileManager.default.contents(atPath: file) ?? Data(), as: UTF8.self)
    }

    func kill() {
        if let pid = try? spawn(["tmux", "-S", socket, "kill-server"]) { _ = reap(pid, blocking: true) }
    }
}

struct TmuxFailed: Error, CustomStringConvertible {
    let arguments: [String]
    let reason: String
    var description: String { "tmux \(arguments.first ?? ""): \(reason)" }
}

/// tmux's capture has the spaces a tab moved over; the transcript keeps the tab.
private func expandingTabs(_ line: String) -> String {
    guard line.contains("\t") else { return line }
    var expanded = ""
    var column = 0
    for character in line {
        if character == "\t" {
            let stop = (column / 8 + 1) * 8
            expanded += String(repeating: " ", count: stop - column)
            column = stop
        } else {
            expanded.append(character)
            column += 1
        }
    }
    return expanded
}

private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard needle.count <= haystack.count else { return false }
    for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
        if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
    }
    return false
}

/// Single quotes for sh.
func shellQuoted(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }
