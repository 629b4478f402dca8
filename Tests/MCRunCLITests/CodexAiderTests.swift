import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// Codex and Aider report only the end of a turn (Codex's notify program, Aider's
/// notifications command). Stand-ins for both, in real runtimes, call the shipped
/// configurations exactly as the agents do; `ps --json` and `send` must read them right.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct CodexAiderTests {
    static let thread = "0199a213-81c0-7800-8aa1-bbab2a035a53"

    /// A stand-in for Codex: each line typed into it is a prompt; it works (redrawing its
    /// status line, as Codex does every second) until the test creates `release-PROMPT`,
    /// then prints its answer and runs the notify program, without a shell, with the JSON
    /// Codex appends. Its stdin stays the terminal, as under Codex.
    static let codexStandIn = #"""
        dir=$1; export PATH="$2:$PATH"; shift 2
        echo ready
        n=0
        while IFS= read -r prompt; do
          n=$((n+1)); printf '%s\n' "$prompt" >> "$dir/typed"; t=0
          while [ ! -e "$dir/release-$prompt" ]; do
            printf '\r\033[2K* Working (%ss - esc to interrupt)' "$t"; t=$((t+1)); sleep 0.2
          done
          printf '\r\033[2KDONE: %s\n' "$prompt"
          "$@" "{\"type\":\"agent-turn-complete\",\"thread-id\":\"0199a213-81c0-7800-8aa1-bbab2a035a53\",\"turn-id\":\"$n\",\"cwd\":\"$PWD\",\"input-messages\":[\"$prompt\"],\"last-assistant-message\":\"DONE: $prompt\",\"client\":\"codex-tui\"}" > "$dir/$prompt.out" 2> "$dir/$prompt.err"
          echo $? > "$dir/$prompt.tmp"; mv "$dir/$prompt.tmp" "$dir/$prompt.rc"
        done
        """#

    /// A stand-in for Aider: a prompt runs until `release-PROMPT` (its "Waiting for MODEL"
    /// spinner meanwhile); then it answers and runs the notifications command through a
    /// shell, as Aider does, before showing its prompt, or, when `ask-PROMPT` exists, a
    /// yes/no question that it reads the answer to (Aider rings once per reply).
    static let aiderStandIn = #"""
        dir=$1; export PATH="$2:$PATH"; command=$3
        printf '> '
        while IFS= read -r prompt; do
          printf '%s\n' "$prompt" >> "$dir/typed"
          while [ ! -e "$dir/release-$prompt" ]; do printf '\r\033[2K# Waiting for gpt-4o'; sleep 0.2; done
          printf '\r\033[2KReply to %s\n' "$prompt"
          sh -c "$command" > "$dir/$prompt.out" 2> "$dir/$prompt.err"
          echo $? > "$dir/$prompt.tmp"; mv "$dir/$prompt.tmp" "$dir/$prompt.rc"
          if [ -e "$dir/ask-$prompt" ]; then
            printf 'Run shell command? (Y)es/(N)o [Yes]: '
            IFS= read -r answer; printf '%s\n' "$answer" >> "$dir/answers"; printf 'Ran it.\n'
          fi
          printf '> '
        done
        """#

    static func entry(_ s: Scratch, _ ticket: String) throws -> JSONValue {
        let (_, ps) = try s.mcrunJSON(["ps"])
        return try #require(ps.at("runtimes")?.arrayValue?.first { $0.at("ticket")?.stringValue == ticket }, "\(ticket) is not in ps")
    }

    static func activity(_ s: Scratch, _ ticket: String) throws -> String? { try entry(s, ticket).at("activity")?.stringValue }

    /// Ends the turn of `prompt` and waits for its report, which must exit 0 silently.
    static func release(_ s: Scratch, _ dir: String, _ prompt: String) throws {
        #expect(FileManager.default.createFile(atPath: "\(dir)/release-\(prompt)", contents: Data()))
        try waitUntil("the stand-in reported the end of \(prompt)", timeout: 20) { FileManager.default.fileExists(atPath: "\(dir)/\(prompt).rc") }
        #expect(try String(contentsOfFile: "\(dir)/\(prompt).rc", encoding: .utf8) == "0\n")
        #expect(FileManager.default.contents(atPath: "\(dir)/\(prompt).out")?.isEmpty == true, "the report printed on stdout")
        let err = String(decoding: FileManager.default.contents(atPath: "\(dir)/\(prompt).err") ?? Data(), as: UTF8.self)
        #expect(err.isEmpty, "the report: \(err)")
    }

    static func typed(_ dir: String) -> [String] {
        ((try? String(contentsOfFile: dir + "/typed", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test func codexStandInShowsIdleAfterEachTurnAndBusyWhileOneRuns() throws {
        let s = try Scratch(name: "codex")
        defer { s.cleanup() }
        let dir = s.path("turns")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let script = try s.script("codex-stand-in.sh", Self.codexStandIn)
        let notify = try AgentReportTests.codexNotify()
        // Codex's own record of the thread, where Codex keeps it.
        let sessions = s.path("codex-home/sessions/2026/12/02")
        try FileManager.default.createDirectory(atPath: sessions, withIntermediateDirectories: true)
        let rollout = "\(sessions)/rollout-2026-12-02T10-00-00-\(Self.thread).jsonl"
        let lines = [
            #"{"timestamp":"2026-12-02T10:00:00.000Z","type":"session_meta","payload":{"id":"\#(Self.thread)","cwd":"/p","originator":"codex_cli_rs"}}"#,
            #"{"timestamp":"2026-12-02T10:00:01.000Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"t1"}]}}"#,
            #"{"timestamp":"2026-12-02T10:00:02.000Z","type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Running the tests."}]}}"#,
            #"{"timestamp":"2026-12-02T10:00:03.000Z","type":"response_item","payload":{"type":"function_call","name":"shell","arguments":"{\"command\":[\"make\",\"test\"]}","call_id":"call_1"}}"#,
            #"{"timestamp":"2026-12-02T10:00:04.000Z","type":"response_item","payload":{"type":"function_call_output","call_id":"call_1","output":"{\"output\":\"2 passed\",\"metadata\":{\"exit_code\":0}}"}}"#,
            #"{"timestamp":"2026-12-02T10:00:05.000Z","type":"event_msg","payload":{"type":"token_count"}}"#,
        ]
        #expect(FileManager.default.createFile(atPath: rollout, contents: Data(lines.joined(separator: "\n").utf8)))
        s.environment["CODEX_HOME"] = s.path("codex-home")
        let (started, json) = try startJSON(s, "CX1", ["--agent", "codex"], command: ["sh", script, dir, Scratch.binDirectory] + notify)
        try #require(started.status == 0, "start: \(started.stderrText)")
        #expect(json.at("runtime.agent")?.stringValue == "codex")
        let pane = try #require(json.at("runtime.pane")?.stringValue)
        try waitUntil("the stand-in is ready") { try s.tmux(["capture-pane", "-p", "-t", pane]).stdoutText.contains("ready") }

        // A first turn typed in the pane, as a person would; its end is reported by notify.
        #expect(FileManager.default.createFile(atPath: "\(dir)/release-t1", contents: Data()))
        #expect(try s.tmux(["send-keys", "-t", pane, "-l", "t1"]).succeeded)
        #expect(try s.tmux(["send-keys", "-t", pane, "Enter"]).succeeded)
        try Self.release(s, dir, "t1")
        var row = try Self.entry(s, "CX1")
        #expect(row.at("activity")?.stringValue == "idle")
        #expect(row.at("busy_source")?.stringValue == "hook")
        #expect(row.at("agent_session_id")?.stringValue == Self.thread)
        #expect(row.at("agent_transcript_path")?.stringValue == rollout)
        let (_, harvest) = try s.mcrunJSON(["harvest", "CX1"])
        #expect(harvest.at("transcript_source")?.stringValue == "agent_transcript")
        #expect(harvest.at("agent_transcript.last_assistant_message")?.stringValue == "Running the tests.")
        #expect(harvest.at("agent_transcript.tool_results")?.arrayValue?.compactMap(\.stringValue) == ["tool result: 2 passed"])

        // A send starts a turn: busy until its notify; meanwhile send refuses and queues.
        let (sent, sentJSON) = try s.mcrunJSON(["send", "CX1", "t2"])
        #expect(sent.status == 0, "\(sent.stderrText)")
        #expect(sentJSON.at("state")?.stringValue == "pasted", "no receipt can have come before the turn ends")
        try waitUntil("t2 reached the stand-in") { Self.typed(dir).contains("t2") }
        #expect(try Self.activity(s, "CX1") == "busy")
        let (refused, refusal) = try s.mcrunJSON(["send", "CX1", "t3"])
        #expect(refused.status == 4)
        #expect(refusal.at("reason")?.stringValue == "agent_busy")
        #expect(try s.mcrun(["send", "CX1", "--queue", "q3"]).status == 0)
        try Self.release(s, dir, "t2")
        // The turn's input messages are Codex's receipt of t2.
        let (_, shown) = try s.mcrunJSON(["show", "CX1"])
        let t2 = shown.at("queue")?.arrayValue?.first { $0.at("id")?.intValue == sentJSON.at("send_id")?.intValue }
        #expect(t2?.at("state")?.stringValue == "confirmed", "\(String(describing: t2))")
        // The end of t2 delivers the queued message, which starts a turn of its own.
        try waitUntil("the queued message reached the stand-in") { Self.typed(dir).contains("q3") }
        #expect(try Self.activity(s, "CX1") == "busy")
        try Self.release(s, dir, "q3")
        #expect(try Self.activity(s, "CX1") == "idle")
        #expect(try Self.entry(s, "CX1").at("last_send.state")?.stringValue == "confirmed", "the queued message's receipt")
        #expect(!Self.typed(dir).contains("t3"))

        // A turn typed in the pane after the last report: no hook says so, its output does.
        #expect(try s.tmux(["send-keys", "-t", pane, "-l", "t4"]).succeeded)
        #expect(try s.tmux(["send-keys", "-t", pane, "Enter"]).succeeded)
        try waitUntil("ps shows the typed turn busy") { try Self.activity(s, "CX1") == "busy" }
        row = try Self.entry(s, "CX1")
        #expect(row.at("busy_source")?.stringValue == "pane")
        let (held, heldJSON) = try s.mcrunJSON(["send", "CX1", "t5"])
        #expect(held.status == 4, "send typed into a running turn: \(held.stderrText)")
        #expect(heldJSON.at("reason")?.stringValue == "agent_busy")
        try Self.release(s, dir, "t4")
        try waitUntil("ps shows the stand-in idle after t4") { try Self.activity(s, "CX1") == "idle" }
        #expect(try s.mcrun(["send", "CX1", "t6"]).status == 0)
        try waitUntil("t6 reached the stand-in") { Self.typed(dir).contains("t6") }
        #expect(Self.typed(dir) == ["t1", "t2", "q3", "t4", "t6"])
    }

    /// Codex gives the notify program its own terminal: what goes wrong goes to the log,
    /// never onto Codex's screen.
    @Test func aFailedCodexReportWritesNothingOnCodexsTerminal() throws {
        let s = try Scratch(name: "codextty")
        defer { s.cleanup() }
        // A runtime's ledger exists (so the log can be written); the report's episode does not.
        #expect(try s.mcrun(["start", "TTY1", "--", "sleep", "300"]).status == 0)
        let notify = try AgentReportTests.codexNotify().map { "'\($0)'" }.joined(separator: " ")
        let line =
            "export MCRUN_TICKET=GHOST-1 MCRUN_EPISODE=1 MCRUN_NONCE=0000 MCRUN_STATE_DIR='\(s.stateDir)' PATH='\(Scratch.binDirectory)':$PATH; "
            + "\(notify) 'not json'; \(notify) '{\"type\":\"agent-turn-complete\",\"thread-id\":\"t\"}'; echo \"rc=$?\"; sleep 300"
        #expect(try s.tmux(["new-session", "-d", "-s", "codex-screen", "sh", "-c", line]).succeeded)
        try waitUntil("both reports ran in the terminal: \(String(describing: try? s.tmux(["capture-pane", "-p", "-t", "codex-screen"]).stdoutText))") {
            try s.tmux(["capture-pane", "-p", "-t", "codex-screen"]).stdoutText.contains("rc=0")
        }
        let screen = try s.tmux(["capture-pane", "-p", "-t", "codex-screen"]).stdoutText
        #expect(!screen.contains("mcrun"), "the report wrote on the terminal: \(screen)")
        let log = (try? String(contentsOfFile: s.stateDir + "/agent-reports.log", encoding: .utf8)) ?? ""
        #expect(log.contains("GHOST-1 episode 1: ignored: codex's notify argument is not a JSON object"), "agent-reports.log: \(log)")
        #expect(log.contains("GHOST-1 episode 1: agent-turn-complete -> idle not recorded"), "agent-reports.log: \(log)")
    }

    @Test func aiderStandInShowsIdleAfterEachReplyAndWaitingAtItsQuestion() throws {
        let s = try Scratch(name: "aider")
        defer { s.cleanup() }
        let dir = s.path("turns")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let script = try s.script("aider-stand-in.sh", Self.aiderStandIn)
        let command = try AgentReportTests.aiderCommand()
        let (started, json) = try startJSON(s, "AD1", ["--agent", "aider"], command: ["sh", script, dir, Scratch.binDirectory, command])
        try #require(started.status == 0, "start: \(started.stderrText)")
        #expect(json.at("runtime.agent")?.stringValue == "aider")
        let pane = try #require(json.at("runtime.pane")?.stringValue)
        try waitUntil("the stand-in shows its prompt") { try s.tmux(["capture-pane", "-p", "-t", pane]).stdoutText.contains(">") }

        #expect(FileManager.default.createFile(atPath: "\(dir)/release-a1", contents: Data()))
        #expect(try s.tmux(["send-keys", "-t", pane, "-l", "a1"]).succeeded)
        #expect(try s.tmux(["send-keys", "-t", pane, "Enter"]).succeeded)
        try Self.release(s, dir, "a1")
        #expect(try Self.activity(s, "AD1") == "idle")
        #expect(try Self.entry(s, "AD1").at("busy_source")?.stringValue == "hook")

        // A send is a turn: busy until the notifications command, then idle again.
        #expect(try s.mcrun(["send", "AD1", "a2"]).status == 0)
        try waitUntil("a2 reached the stand-in") { Self.typed(dir).contains("a2") }
        #expect(try Self.activity(s, "AD1") == "busy")
        #expect(try s.mcrun(["send", "AD1", "a3"]).status == 4)

        // Aider rings before a yes/no question too: typed text would answer it, so send
        // holds back (agent_waiting) and --queue waits until the question is answered.
        #expect(FileManager.default.createFile(atPath: "\(dir)/ask-a2", contents: Data()))
        try Self.release(s, dir, "a2")
        try waitUntil("the stand-in asks its question") {
            try s.tmux(["capture-pane", "-p", "-t", pane]).stdoutText.contains("(Y)es/(N)o [Yes]:")
        }
        // ps reads the screen only when asked (--busy-detail): then it shows the question.
        let (_, detail) = try s.mcrunJSON(["ps", "--busy-detail"])
        let row = detail.at("runtimes")?.arrayValue?.first { $0.at("ticket")?.stringValue == "AD1" }
        #expect(row?.at("activity")?.stringValue == "waiting", "\(String(describing: row))")
        #expect(row?.at("waiting_for")?.stringValue == "question")
        #expect(row?.at("busy_source")?.stringValue == "screen")
        let (refused, refusal) = try s.mcrunJSON(["send", "AD1", "a3"])
        #expect(refused.status == 4, "send typed into the question: \(refused.stderrText)")
        #expect(refusal.at("reason")?.stringValue == "agent_waiting")
        #expect(!FileManager.default.fileExists(atPath: dir + "/answers"))
        #expect(try s.tmux(["send-keys", "-t", pane, "-l", "y"]).succeeded)
        #expect(try s.tmux(["send-keys", "-t", pane, "Enter"]).succeeded)
        try waitUntil("the question was answered") { FileManager.default.fileExists(atPath: dir + "/answers") }
        try waitUntil("send reaches the stand-in at its prompt again", timeout: 20, every: 0.3) {
            try s.mcrun(["send", "AD1", "a4"]).status == 0
        }
        try waitUntil("a4 reached the stand-in") { Self.typed(dir).contains("a4") }
        #expect(Self.typed(dir) == ["a1", "a2", "a4"])
        #expect(try String(contentsOfFile: dir + "/answers", encoding: .utf8) == "y\n")
    }
}
