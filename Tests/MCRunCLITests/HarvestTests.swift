import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// Pane logs, completion signals, harvest and the silent flag, against the real binary, a
/// real tmux server and the real pane-log hook.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct HarvestTests {
    func runtime(_ s: Scratch, _ ticket: String, episode: Int? = nil) throws -> Runtime? {
        try s.context().ledger.runtime(ticket: ticket, episode: episode)
    }

    func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }

    @Test func logsShowEachCleanLineOnceAndFollowEndsWithTheRuntime() throws {
        let s = try Scratch(name: "logs")
        defer { s.cleanup() }
        let go = s.path("go")
        let agent = try s.script(
            "agent.sh",
            """
            #!/bin/sh
            while [ ! -e '\(go)' ]; do sleep 0.02; done
            printf '\\033[1;32mline one\\033[0m\\n'
            i=0
            while [ $i -lt 200 ]; do printf '\\r\\033[K⠋ thinking %s' $i; i=$((i+1)); done
            printf '\\r\\033[Kline two\\n'
            printf 'progress [          ]\\rprogress [#####     ]\\rprogress [##########]\\n'
            echo 'last line'
            exec sleep 30
            """)
        #expect(try s.mcrun(["start", "L1", "--", agent]).status == 0)
        let follower = try s.spawnMcrun(["logs", "L1", "-f"])
        #expect(FileManager.default.createFile(atPath: go, contents: nil))
        let expected = ["line one", "line two", "progress [##########]", "last line"]
        try waitUntil("the clean log has every line", timeout: 15) {
            lines(try s.mcrun(["logs", "L1"]).stdoutText) == expected
        }
        #expect(lines(try s.mcrun(["logs", "L1", "-n", "2"]).stdoutText) == ["progress [##########]", "last line"])
        let raw = try s.mcrun(["logs", "L1", "--raw"]).stdoutText
        #expect(raw.contains("\u{1B}[1;32m"))

        #expect(try s.mcrun(["stop", "L1", "--grace", "2s"]).status == 0)
        let followed = follower.collect(stdin: nil, timeoutMilliseconds: 15_000)
        #expect(!followed.timedOut, "logs -f must end once the runtime ended and its log is drained")
        #expect(followed.status == 0)
        #expect(lines(followed.stdoutText) == expected)
    }

    @Test func signalsFromAStaleEpisodeAParkedTicketOrWithAWrongNonceAreQuarantined() throws {
        let s = try Scratch(name: "quar")
        defer { s.cleanup() }
        #expect(try s.mcrun(["start", "Q1", "--", "sleep", "30"]).status == 0)
        let first = try #require(try runtime(s, "Q1"))
        #expect(try s.mcrun(["stop", "Q1", "--grace", "1s"]).status == 0)
        #expect(try s.mcrun(["start", "Q1", "--", "sleep", "30"]).status == 0)
        let second = try #require(try runtime(s, "Q1"))
        #expect(second.episode == 2)

        // Episode 1's own, correct nonce: too late.
        let stale = try s.mcrunJSON(["signal", "DONE", "--ticket", "Q1", "--episode", "1", "--nonce", first.nonce, "--summary", "old"])
        #expect(stale.result.status == 6)
        #expect(stale.json["reason"]?.stringValue == "stale_episode")

        let wrong = try s.mcrunJSON(["signal", "DONE", "--ticket", "Q1", "--episode", "2", "--nonce", String(repeating: "0", count: 32)])
        #expect(wrong.result.status == 6)
        #expect(wrong.json["reason"]?.stringValue == "bad_nonce")

        // Bad JSON is refused before anything is stored.
        let bad = try s.mcrun(["signal", "DONE", "--ticket", "Q1", "--episode", "2", "--nonce", second.nonce, "--payload", "{not json"])
        #expect(bad.status == 2)

        // Park is another command; the parked flag is what the signal is checked against.
        // Staged by hand: `park` would also stop the runtime, which must stay running here.
        try s.editLedger("UPDATE tickets SET parked = 1, parked_reason = 'waiting' WHERE id = 'Q1';")
        try s.stageEvent("park", ticket: "Q1", reason: "waiting")
        let parked = try s.mcrunJSON(["signal", "DONE", "--ticket", "Q1", "--episode", "2", "--nonce", second.nonce])
        #expect(parked.result.status == 6)
        #expect(parked.json["reason"]?.stringValue == "ticket_parked")

        let ledger = try s.context().ledger
        let (signals, quarantines, after, ticket) = (
            try ledger.signals(), try ledger.events(after: 0, kinds: ["quarantine"]), try ledger.runtime(id: second.id!), try ledger.ticket(id: "Q1")
        )
        #expect(signals.map(\.state) == [.quarantined, .quarantined, .quarantined])
        #expect(signals.map(\.reason) == ["stale_episode", "bad_nonce", "ticket_parked"])
        #expect(quarantines.map(\.reason) == ["stale_episode", "bad_nonce", "ticket_parked"])
        #expect(after?.state == .running)
        #expect(after?.verdict == nil)
        #expect(after?.updatedAt == second.updatedAt)
        #expect(ticket?.deaths == 0)
    }

    @Test func anAgentThatSignalsDoneThenExitsEndsCompleted() throws {
        let s = try Scratch(name: "done")
        defer { s.cleanup() }
        let agent = try s.script(
            "agent.sh",
            """
            #!/bin/sh
            echo 'building the thing'
            '\(Scratch.mcrunPath)' signal DONE --payload '{"summary":"built it","pr":42}' >/dev/null || exit 9
            echo 'signalled'
            exit 0
            """)
        #expect(try s.mcrun(["start", "D1", "--", agent]).status == 0)
        try waitUntil("DONE accepted and the agent gone", timeout: 15) {
            guard let r = try runtime(s, "D1") else { return false }
            return r.verdict == .done && r.liveness() != .alive
        }
        // What ends it here is stop's teardown; serve's reaper takes Transition.completed the same way.
        #expect(try s.mcrun(["stop", "D1", "--grace", "1s"]).status == 0)
        let ended = try #require(try runtime(s, "D1"))
        #expect(ended.state == .completed)
        #expect(ended.terminalRecord?.status == "completed")

        let harvest = try s.mcrunJSON(["harvest", "D1"])
        #expect(harvest.result.status == 0)
        #expect(harvest.json["status"]?.stringValue == "completed")
        #expect(harvest.json.at("verdict.kind")?.stringValue == "DONE")
        #expect(harvest.json.at("verdict.payload.summary")?.stringValue == "built it")
        #expect(harvest.json.at("verdict.payload.pr")?.intValue == 42)
        #expect(harvest.json.at("record.safe_retry")?.boolValue == false)
        #expect(harvest.json.at("runtime.deaths")?.intValue == 0)
        let tail = harvest.json["transcript_tail"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(tail == ["building the thing", "signalled"])
        let completions = try s.context().ledger.eventCount(kind: "completion")
        #expect(completions == 1)
    }

    @Test func anAgentThatExitsWithoutASignalLeavesARecordWithItsExitStatusAndLastLines() throws {
        let s = try Scratch(name: "died")
        defer { s.cleanup() }
        let agent = try s.script(
            "agent.sh",
            """
            #!/bin/sh
            i=1
            while [ $i -le 60 ]; do echo "output $i"; i=$((i+1)); done
            exit 7
            """)
        #expect(try s.mcrun(["start", "X1", "--", agent]).status == 0)
        try waitUntil("the agent exited", timeout: 15) { try runtime(s, "X1")?.liveness() == .exited }

        // The death recorded by a real serve (its first pass finds the agent gone); the
        // relaunch it owes is an hour away.
        let context = try s.context()
        let serve = try s.spawnMcrun(["serve", "--reconcile-interval", "200ms", "--retry-delay", "3600s"])
        var serveReaped = false
        s.onCleanup {
            guard !serveReaped else { return }
            kill(serve.pid, SIGKILL)
            _ = serve.collect(stdin: nil, timeoutMilliseconds: 5_000)
        }
        try waitUntil("serve to record the death", timeout: 15) { try runtime(s, "X1")?.state == .dead }
        let live = try #require(try runtime(s, "X1"))
        #expect(live.endedBy?.hasPrefix("serve") == true)
        #expect(try s.context().ledger.eventCount(kind: "death") == 1)
        kill(serve.pid, SIGTERM)
        let served = serve.collect(stdin: nil, timeoutMilliseconds: 10_000)
        serveReaped = true
        #expect(!served.timedOut, "serve did not exit on SIGTERM: \(served.stderrText)")

        // Rotated away: the record and tail were written at the end.
        let log = context.stateDirectory.paneLogPath(runtimeID: live.id!)
        #expect(unlink(log) == 0)

        let harvest = try s.mcrunJSON(["harvest", "X1"])
        #expect(harvest.json["status"]?.stringValue == "dead")
        #expect(harvest.json["verdict"] == .null)
        #expect(harvest.json.at("record.artifacts.exit_code")?.intValue == 7)
        #expect(harvest.json.at("record.artifacts.log")?.stringValue == log)
        #expect(harvest.json.at("record.root_cause")?.stringValue == "exit_code")
        #expect(harvest.json.at("record.safe_retry")?.boolValue == true)
        #expect(harvest.json.at("record.human_input_required")?.boolValue == false)
        #expect((harvest.json.at("record.next_actions")?.arrayValue?.count ?? 0) > 0)
        let tail = harvest.json["transcript_tail"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(tail == (11...60).map { "output \($0)" })

        // Rotated log, saved tail: logs still tells the end.
        let logs = try s.mcrun(["logs", "X1", "-n", "1"])
        #expect(logs.status == 0)
        #expect(lines(logs.stdoutText) == ["output 60"])
    }

    /// A Claude Code transcript as the agent writes it: one JSON object per line, a message's
    /// content blocks on lines of their own, tool results in user entries, lines harvest
    /// does not read (system, summary), and a last line cut off mid-write.
    static let transcript = [
        #"{"parentUuid":null,"isSidechain":false,"userType":"external","cwd":"/home/u/app","sessionId":"sess-7","version":"2.1.3","gitBranch":"main","type":"user","message":{"role":"user","content":"Fix the failing parser test"},"uuid":"u1","timestamp":"2026-12-02T10:00:00.000Z"}"#,
        #"{"parentUuid":"u1","sessionId":"sess-7","type":"assistant","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"I'll run the tests first."}],"stop_reason":null},"requestId":"req_1","uuid":"a1","timestamp":"2026-12-02T10:00:01.000Z"}"#,
        #"{"parentUuid":"a1","sessionId":"sess-7","type":"assistant","message":{"id":"msg_01","type":"message","role":"assistant","content":[{"type":"tool_use","id":"toolu_01","name":"Bash","input":{"command":"swift test"}}]},"uuid":"a2","timestamp":"2026-12-02T10:00:02.000Z"}"#,
        #"{"parentUuid":"a2","sessionId":"sess-7","type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_01","type":"tool_result","content":"1 test failed: ParserTests.testEmpty","is_error":true}]},"toolUseResult":{"stdout":"","stderr":"1 test failed"},"uuid":"u2","timestamp":"2026-12-02T10:00:09.000Z"}"#,
        #"{"parentUuid":"u2","sessionId":"sess-7","type":"assistant","message":{"id":"msg_02","type":"message","role":"assistant","content":[{"type":"text","text":"The empty input returns nil.\nFixing Parser.parse."}]},"uuid":"a3","timestamp":"2026-12-02T10:00:10.000Z"}"#,
        #"{"parentUuid":"a3","sessionId":"sess-7","type":"assistant","message":{"id":"msg_02","type":"message","role":"assistant","content":[{"type":"tool_use","id":"toolu_02","name":"Edit","input":{"file_path":"/home/u/app/Sources/Parser.swift","old_string":"return nil","new_string":"return []"}}]},"uuid":"a4","timestamp":"2026-12-02T10:00:11.000Z"}"#,
        #"{"parentUuid":"a4","sessionId":"sess-7","type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_02","type":"tool_result","content":[{"type":"text","text":"The file /home/u/app/Sources/Parser.swift has been updated."}]}]},"uuid":"u3","timestamp":"2026-12-02T10:00:12.000Z"}"#,
        #"{"type":"system","subtype":"informational","content":"Conversation compacted","uuid":"s1","timestamp":"2026-12-02T10:00:13.000Z"}"#,
        #"{"type":"summary","summary":"Fixing the parser","leafUuid":"u3"}"#,
        #"{"parentUuid":"u3","sessionId":"sess-7","type":"assistant","message":{"id":"msg_03","content":[{"type":"te"#,
    ].joined(separator: "\n")

    @Test func harvestReadsTheAgentsTranscriptWhenItNamedOneAndThePaneLogOtherwise() throws {
        let s = try Scratch(name: "transcript")
        defer { s.cleanup() }
        let path = s.path("sess-7.jsonl")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(Self.transcript.utf8)))
        let agent = try s.script(
            "agent.sh",
            """
            #!/bin/sh
            echo "pane line 1"; echo "pane line 2"
            printf '%s' '{"hook_event_name":"SessionStart","session_id":"sess-7","transcript_path":"\(path)"}' | \(Scratch.mcrunPath) agent report
            echo "pane line 3"
            exec sleep 1000
            """)
        #expect(try s.mcrun(["start", "H1", "--", agent]).status == 0)
        try waitUntil("the agent named its transcript") { try runtime(s, "H1")?.agentTranscriptPath == path }
        try waitUntil("the pane log has the agent's last line") {
            try runtime(s, "H1").map { PaneLog.tail(try s.context().stateDirectory.paneLogPath(runtimeID: $0.id!), lines: 5) }?.contains("pane line 3") == true
        }

        // Mid-tool: the last message with text, and the results of the tools it called after it.
        var (result, json) = try s.mcrunJSON(["harvest", "H1"])
        #expect(result.status == 0, "\(result.stderrText)")
        #expect(json.at("transcript_source")?.stringValue == "agent_transcript")
        #expect(json.at("agent_transcript.path")?.stringValue == path)
        #expect(json.at("agent_transcript.last_assistant_message")?.stringValue == "The empty input returns nil.\nFixing Parser.parse.")
        #expect(
            json.at("agent_transcript.tool_results")?.arrayValue?.compactMap(\.stringValue)
                == ["tool result: The file /home/u/app/Sources/Parser.swift has been updated."])
        #expect(
            json.at("transcript_tail")?.arrayValue?.compactMap(\.stringValue)
                == ["The empty input returns nil.", "Fixing Parser.parse.", "tool result: The file /home/u/app/Sources/Parser.swift has been updated."])
        #expect(try s.mcrun(["harvest", "H1"]).stdoutText.contains("from the agent's transcript \(path)"))

        // The agent's final words: its last message, no tool after it.
        let final =
            #"{"parentUuid":"u3","sessionId":"sess-7","type":"assistant","message":{"id":"msg_03","type":"message","role":"assistant","content":[{"type":"text","text":"All tests pass. DONE."}]},"uuid":"a5"}"#
        #expect(FileManager.default.createFile(atPath: path, contents: Data((Self.transcript + "\n" + final + "\n").utf8)))
        (_, json) = try s.mcrunJSON(["harvest", "H1", "--lines", "1"])
        #expect(json.at("agent_transcript.last_assistant_message")?.stringValue == "All tests pass. DONE.")
        #expect(json.at("agent_transcript.tool_results")?.arrayValue?.isEmpty == true)
        #expect(json.at("transcript_tail")?.arrayValue?.compactMap(\.stringValue) == ["All tests pass. DONE."])

        // Gone (or unreadable): the clean pane log, and it says so.
        #expect(unlink(path) == 0)
        (_, json) = try s.mcrunJSON(["harvest", "H1"])
        #expect(json.at("transcript_source")?.stringValue == "pane_log")
        #expect(json.at("agent_transcript") == .null)
        #expect(json.at("transcript_tail")?.arrayValue?.compactMap(\.stringValue).contains("pane line 3") == true)
    }

    @Test func aSilentRuntimeIsFlaggedInPsAndHarvested() throws {
        let s = try Scratch(name: "silent")
        defer { s.cleanup() }
        let agent = try s.script("agent.sh", "#!/bin/sh\necho 'waiting for input'\nexec sleep 30\n")
        #expect(try s.mcrun(["start", "S1", "--", agent]).status == 0)

        let busy = try s.mcrunJSON(["ps", "--harvest-timeout", "10m"])
        #expect(busy.json.at("runtimes")?.arrayValue?.first?["silent"] == nil)
        #expect(try s.mcrunJSON(["harvest", "S1", "--harvest-timeout", "10m"]).json["status"]?.stringValue == "running")

        try waitUntil("ps flags S1 silent", timeout: 10, every: 0.2) {
            try s.mcrunJSON(["ps", "--harvest-timeout", "1s"]).json.at("runtimes")?.arrayValue?.first?["silent"]?.boolValue == true
        }
        #expect(try s.mcrun(["ps", "--harvest-timeout", "1s"]).stdoutText.contains("silent"))
        let harvest = try s.mcrunJSON(["harvest", "S1", "--harvest-timeout", "1s"])
        #expect(harvest.json["status"]?.stringValue == "silent")
        #expect(harvest.json.at("record.human_input_required")?.boolValue == true)
        #expect(harvest.json.at("record.safe_retry")?.boolValue == false)
        #expect(harvest.json["transcript_tail"]?.arrayValue?.compactMap(\.stringValue).last == "waiting for input")
    }

    @Test func eventsAreJSONLinesByCursorAndFollowExitsCleanlyOnSIGTERM() throws {
        let s = try Scratch(name: "events")
        defer { s.cleanup() }
        #expect(try s.mcrun(["start", "E1", "--", "sleep", "30"]).status == 0)
        let all = try s.mcrun(["events"]).stdoutText.split(separator: "\n").compactMap { JSONValue.parse(String($0)) }
        #expect(all.map { $0["kind"]?.stringValue } == ["launch", "start"])
        let firstID = try #require(all.first?["id"]?.intValue)
        let after = try s.mcrun(["events", "--since", String(firstID)]).stdoutText.split(separator: "\n")
        #expect(after.count == 1)

        let out = s.path("follow.out")
        let follower = try Subprocess.spawn(
            ["/bin/sh", "-c", "exec \"$0\" events --follow --ticket E1 > \"$1\"", Scratch.mcrunPath, out],
            environment: s.processEnvironment, workingDirectory: s.directory)
        #expect(try s.mcrun(["stop", "E1", "--grace", "1s"]).status == 0)
        // The teardown event is the stop's last; the follower may print it in a later poll.
        try waitUntil("the follower printed the stop's teardown event", timeout: 10) {
            ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").contains("\"kind\":\"teardown\"")
        }
        kill(follower.pid, SIGTERM)
        let ended = follower.collect(stdin: nil, timeoutMilliseconds: 5_000)
        #expect(!ended.timedOut)
        #expect(ended.status == 0 && ended.signal == nil)
        let followed = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").compactMap { JSONValue.parse(String($0)) }
        #expect(followed.map { $0["kind"]?.stringValue } == ["launch", "start", "stopping", "stop", "teardown"])
    }
}
