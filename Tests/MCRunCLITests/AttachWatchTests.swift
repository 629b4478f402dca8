import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// `mcrun attach` and `mcrun ps --watch`: what an operator at a terminal runs.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct AttachWatchTests {
    @Test func attachAnswersUnknownTicketAndNoLiveRuntimeWithExit3() throws {
        let s = try Scratch(name: "attach")
        defer { s.cleanup() }
        let (unknown, unknownJSON) = try s.mcrunJSON(["attach", "NOPE"])
        #expect(unknown.status == 3)
        #expect(unknownJSON.at("reason")?.stringValue == "no_ticket")

        try #require(try s.mcrun(["start", "A1", "--", "sleep", "1000"]).status == 0)
        try #require(try s.mcrun(["stop", "A1", "--grace", "2s"]).status == 0)
        let (ended, endedJSON) = try s.mcrunJSON(["attach", "A1"])
        #expect(ended.status == 3)
        #expect(endedJSON.at("reason")?.stringValue == "no_live_runtime")
        #expect(ended.stderrText.contains("mcrun harvest A1"), "\(ended.stderrText)")
    }

    @Test func attachNeedsATerminalAndPrintsTheExactTmuxCommand() throws {
        let s = try Scratch(name: "attach")
        defer { s.cleanup() }
        try #require(try s.mcrun(["start", "A1", "--", "sleep", "1000"]).status == 0)

        // The test's stdin is a pipe: no terminal.
        let noTTY = try s.mcrun(["attach", "A1"])
        #expect(noTTY.status == 2)
        #expect(noTTY.stderrText.contains("needs a terminal"), "\(noTTY.stderrText)")
        #expect(noTTY.stderrText.split(separator: "\n").count == 1)

        let socket = s.stateDir + "/tmux/sock"
        let (_, readOnly) = try s.mcrunJSON(["attach", "A1", "--print"])
        #expect(readOnly.at("argv") == JSONValue(["tmux", "-S", socket, "attach-session", "-t", "=A1@1", "-r"]))
        #expect(readOnly.at("read_only")?.boolValue == true)
        let (_, readWrite) = try s.mcrunJSON(["attach", "A1", "--print", "--rw"])
        #expect(readWrite.at("argv") == JSONValue(["tmux", "-S", socket, "attach-session", "-t", "=A1@1"]))
    }

    /// Under a real pseudo-terminal (`script`), attach becomes a tmux client of the agent's
    /// session: read-only by default, read-write with --rw.
    @Test func attachUnderAPseudoTerminalIsAReadOnlyClientUnlessRW() throws {
        let s = try Scratch(name: "attach")
        defer { s.cleanup() }
        try #require(access("/usr/bin/script", X_OK) == 0, "util-linux script(1) is needed to give attach a terminal")
        try #require(try s.mcrun(["start", "A1", "--", "sleep", "1000"]).status == 0)

        for (extra, readOnly) in [([String](), true), (["--rw"], false)] {
            let command = ([Scratch.mcrunPath, "attach", "A1"] + extra).map(PaneHooks.shellQuote).joined(separator: " ")
            let client = try Subprocess.spawn(
                ["/usr/bin/script", "-qec", command, "/dev/null"], environment: s.processEnvironment, workingDirectory: s.directory)
            var flags = ""
            try waitUntil("a tmux client attached to A1@1", timeout: 10) {
                let listed = try s.tmux(["list-clients", "-F", "#{session_name} #{client_flags}"]).stdoutText
                flags = listed.split(separator: "\n").first { $0.hasPrefix("A1@1 ") }.map(String.init) ?? ""
                return !flags.isEmpty
            }
            #expect(flags.contains("read-only") == readOnly, "\(extra): \(flags)")
            #expect(flags.contains("ignore-size") == readOnly, "\(extra): \(flags)")
            #expect(try s.tmux(["detach-client", "-s", "=A1@1"]).status == 0)
            let ended = client.collect(stdin: nil, timeoutMilliseconds: 10_000)
            #expect(ended.status == 0 && !ended.timedOut, "\(ended.stdoutText)")
        }
        // The agent is untouched by watchers coming and going.
        let (_, shown) = try s.mcrunJSON(["show", "A1"])
        #expect(shown.at("runtime.alive")?.boolValue == true)
    }

    @Test func watchRedrawsOnALedgerWriteNotOnItsTimerAndExitsCleanlyOnSIGTERM() throws {
        let s = try Scratch(name: "watch")
        defer { s.cleanup() }
        try #require(try s.mcrun(["config", "capacity", "100"]).status == 0, "a write creates the state directory and its ledger")
        let output = s.path("watch.out")
        // A redraw period far beyond the test's waits: only a wake on the ledger's change can show A1.
        let watcher = try Watcher(s, ["--interval", "60s"], output: output)
        func screen() -> String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
        try waitUntil("the first table", timeout: 10) { screen().contains("no runtimes") }

        try #require(try s.mcrun(["start", "A1", "--", "sleep", "1000"]).status == 0)
        try waitUntil("a redraw showing A1 running; output:\n\(screen())", timeout: 10) {
            screen().split(separator: "\n").contains { $0.hasPrefix("A1 ") && $0.contains("running") }
        }

        let ended = watcher.stop(SIGTERM)
        #expect(ended.status == 0 && ended.signal == nil && !ended.timedOut, "status \(ended.status): \(screen())")
    }

    @Test func watchWithJSONPrintsOneStampedObjectPerRefreshAndExitsCleanlyOnSIGINT() throws {
        let s = try Scratch(name: "watch")
        defer { s.cleanup() }
        try #require(try s.mcrun(["start", "A1", "--", "sleep", "1000"]).status == 0)
        let output = s.path("watch.json")
        let watcher = try Watcher(s, ["--json", "--interval", "100ms"], output: output)
        func lines() -> [Substring] { ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n") }
        // Nothing is written meanwhile: these refreshes come from --interval alone.
        try waitUntil("three refreshes", timeout: 10) { lines().count >= 3 }
        let ended = watcher.stop(SIGINT)
        #expect(ended.status == 0 && ended.signal == nil && !ended.timedOut)
        for line in lines() {
            let json = try #require(JSONValue.parse(String(line)), "not JSON: \(line)")
            #expect(json.at("schema_version")?.intValue == 2 && json.at("ok")?.boolValue == true)
            #expect(json.at("runtimes")?.arrayValue?.first?.at("ticket")?.stringValue == "A1")
        }
    }

    @Test func watchAsksForItsIntervalOnlyWithWatch() throws {
        let s = try Scratch(name: "watch")
        defer { s.cleanup() }
        let result = try s.mcrun(["ps", "--interval", "5s"])
        #expect(result.status == 2)
        #expect(result.stderrText.contains("mcrun ps --watch --interval 5s"), "\(result.stderrText)")
    }

    @Test func psFitsColumnsDroppingTheLeastUsefulColumnsFirst() throws {
        let s = try Scratch(name: "cols")
        defer { s.cleanup() }
        try #require(try s.mcrun(["start", "WIDE-TICKET-1", "--owner", "a-rather-long-owner-name", "--", "sleep", "1000"]).status == 0)
        let piped = try s.mcrun(["ps"]).stdoutText
        #expect(piped.contains("SESSION") && piped.contains("OWNER"), "a pipe gets every column: \(piped)")

        s.environment["COLUMNS"] = "44"
        let narrow = try s.mcrun(["ps"])
        #expect(narrow.status == 0)
        let lines = narrow.stdoutText.split(separator: "\n")
        #expect(lines.allSatisfy { $0.count <= 44 }, "\(narrow.stdoutText)")
        #expect(lines.first?.hasPrefix("TICKET") == true && lines.first?.contains("STATE") == true && lines.first?.contains("ALIVE") == true)
        #expect(!narrow.stdoutText.contains("SESSION") && !narrow.stdoutText.contains("a-rather-long-owner-name"))
        #expect(lines.contains { $0.hasPrefix("WIDE-TICKET-1") && $0.contains("running") })
    }
}

/// `mcrun ps --watch FLAGS` writing to `output`, killed at cleanup unless stopped first.
private final class Watcher {
    let child: Subprocess.Child
    private var stopped = false

    init(_ s: Scratch, _ flags: [String], output: String) throws {
        let script = "exec \"$0\" ps --watch \(flags.joined(separator: " ")) >\(PaneHooks.shellQuote(output)) 2>&1"
        child = try Subprocess.spawn(["/bin/sh", "-c", script, Scratch.mcrunPath], environment: s.processEnvironment, workingDirectory: s.directory)
        s.onCleanup { [self] in
            if !stopped { _ = stop(SIGKILL) }
        }
    }

    /// Sends `signal` and collects how the watcher ended.
    func stop(_ signal: Int32) -> Subprocess.Result {
        stopped = true
        kill(child.pid, signal)
        return child.collect(stdin: nil, timeoutMilliseconds: 10_000)
    }
}
