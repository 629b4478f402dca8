import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

@Suite(.serialized, .timeLimit(.minutes(2)))
struct SendTests {
    /// 100 KB of everything a shell or tmux would otherwise interpret.
    static func hostileMessage() -> [UInt8] {
        let parts = [
            "\"double\" 'single' `backtick`", "$(rm -rf /tmp/nothing)", "${HOME}", "\n", "\t", "C-c", "Enter", " Escape ",
            "#{pane_id}", "; exit 1 &&", "\\", "ü漢字😀", "\r\n", "%1", "\u{7f}",
        ]
        var out: [UInt8] = []
        var i = 0
        while out.count < 100 * 1024 {
            out += Array(parts[(i * 7 + i / 3) % parts.count].utf8)
            out += Array("\(i)".utf8)
            i += 1
        }
        return out
    }

    @Test func hugeHostileMessageArrivesByteExact() throws {
        let s = try Scratch(name: "sendexact")
        defer { s.cleanup() }
        let (agent, _) = try RecordingAgent.start(s, ticket: "S1")
        let message = Self.hostileMessage()
        let (result, json) = try s.mcrunJSON(["send", "S1", "-"], stdin: message)
        #expect(result.status == 0, "\(result.stderrText)")
        #expect(json.at("delivered")?.boolValue == true)
        #expect(json.at("bytes")?.intValue == Int64(message.count))
        let expected = pasted(message)
        try agent.waitForRecording(expected)
        let got = agent.recorded
        #expect(got.count == expected.count)
        if got != expected {
            let at = zip(got, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, expected.count)
            Issue.record("first difference at byte \(at) of \(expected.count)")
        }
        // The same through --file.
        let file = s.path("message.bin")
        #expect(FileManager.default.createFile(atPath: file, contents: Data(message.prefix(5000))))
        try agent.finishTurn()
        try waitUntil("the agent is idle") { try !agent.runtime().busy }
        #expect(try s.mcrun(["send", "S1", "--file", file]).status == 0)
        try agent.waitForRecording(expected + pasted(Array(message.prefix(5000))))
        #expect(agent.recorded == expected + pasted(Array(message.prefix(5000))))
    }

    @Test func busyAgentAnswers409AndTheQueueDeliversInOrder() throws {
        let s = try Scratch(name: "sendqueue")
        defer { s.cleanup() }
        let (agent, _) = try RecordingAgent.start(s, ticket: "Q1")
        let m1 = Array("first".utf8)
        let m2 = Array("second $(x)".utf8)
        let m3 = Array("third\nline".utf8)
        #expect(try s.mcrun(["send", "Q1", "first"]).status == 0)

        let (busy, refusal) = try s.mcrunJSON(["send", "Q1", "second $(x)"])
        #expect(busy.status == 4)
        #expect(refusal.at("reason")?.stringValue == "agent_busy")
        #expect(!busy.stderrText.contains("refused"))

        let (q2, j2) = try s.mcrunJSON(["send", "Q1", "--queue", "second $(x)"])
        #expect(q2.status == 0)
        #expect(j2.at("delivered")?.boolValue == false)
        #expect(j2.at("code")?.intValue == 202)
        #expect(try s.mcrun(["send", "Q1", "--queue", "-"], stdin: m3).status == 0)
        let (_, show) = try s.mcrunJSON(["show", "Q1"])
        #expect(show.at("queue")?.arrayValue?.compactMap { $0.at("state")?.stringValue } == ["pasted", "pending", "pending"])
        #expect(try s.mcrun(["show", "Q1"]).stdoutText.contains("pending"))
        #expect(agent.recorded == pasted(m1))

        // Each end of turn delivers exactly the next message, in order.
        try agent.finishTurn()
        try agent.waitForRecording(pasted(m1) + pasted(m2))
        try holdsFalse("the third message is delivered while the agent is busy", for: 0.5) {
            agent.recorded.count > (pasted(m1) + pasted(m2)).count
        }
        try agent.finishTurn()
        try agent.waitForRecording(pasted(m1) + pasted(m2) + pasted(m3))
        #expect(agent.recorded == pasted(m1) + pasted(m2) + pasted(m3))
        let (_, after) = try s.mcrunJSON(["show", "Q1"])
        // Every send is listed: the direct one and the two queued, all in the pane.
        #expect(after.at("queue")?.arrayValue?.compactMap { $0.at("state")?.stringValue } == ["pasted", "pasted", "pasted"])
        #expect(after.at("queue")?.arrayValue?.compactMap { $0.at("mode")?.stringValue } == ["now", "queue", "queue"])
    }

    @Test func interruptThenSend() throws {
        let s = try Scratch(name: "sendintr")
        defer { s.cleanup() }
        let (agent, _) = try RecordingAgent.start(s, ticket: "I1")
        #expect(try s.mcrun(["send", "I1", "long task"]).status == 0)
        try waitUntil("the agent is mid-turn") { try agent.runtime().busy }
        let (result, json) = try s.mcrunJSON(["send", "I1", "--interrupt", "--wait", "10s", "stop that"])
        #expect(result.status == 0, "\(result.stderrText)")
        #expect(json.at("interrupted")?.boolValue == true)
        let expected = pasted(Array("long task".utf8)) + [0x1b] + pasted(Array("stop that".utf8))
        try agent.waitForRecording(expected)
        #expect(agent.recorded == expected)
    }

    @Test func paneActivityAndScreenPatternWithoutHooks() throws {
        let s = try Scratch(name: "sendpane")
        defer { s.cleanup() }
        #expect(try s.mcrun(["config", "busy-window", "1"]).status == 0)
        // An agent with no hooks that keeps printing: busy by pane activity.
        try #require(try s.mcrun(["start", "P1", "--", "sh", "-c", "while :; do echo tick; sleep 0.2; done"]).status == 0)
        let (busy, refusal) = try s.mcrunJSON(["send", "P1", "hello"])
        #expect(busy.status == 4)
        #expect(refusal.at("reason")?.stringValue == "agent_busy")
        #expect(busy.stderrText.contains("pane"))
        let (_, ps) = try s.mcrunJSON(["ps"])
        let p1 = ps.at("runtimes")?.arrayValue?.first { $0.at("ticket")?.stringValue == "P1" }
        #expect(p1?.at("busy")?.boolValue == true)
        #expect(p1?.at("busy_source")?.stringValue == "pane")

        // A quiet agent whose screen says it is working: idle by the pane, busy by the
        // pattern, which only send and ps --busy-detail look at.
        let script = try s.write("quiet.sh", "printf 'Working (esc to interrupt)\\n'; exec cat >/dev/null\n", mode: 0o755)
        try #require(try s.mcrun(["start", "P2", "--", "sh", script]).status == 0)
        try waitUntil("P2's pane is quiet", timeout: 10) {
            let (_, ps) = try s.mcrunJSON(["ps"])
            return ps.at("runtimes")?.arrayValue?.first { $0.at("ticket")?.stringValue == "P2" }?.at("busy")?.boolValue == false
        }
        #expect(try s.mcrun(["config", "busy-pattern", "Work(ing)? \\(esc"]).status == 0)
        #expect(try s.mcrun(["config", "busy-pattern", "(unclosed"]).status == 2)
        let (screen, screenRefusal) = try s.mcrunJSON(["send", "P2", "hello"])
        #expect(screen.status == 4)
        #expect(screenRefusal.at("reason")?.stringValue == "agent_busy")
        #expect(screen.stderrText.contains("screen"))
        let (_, plain) = try s.mcrunJSON(["ps"])
        #expect(plain.at("runtimes")?.arrayValue?.first { $0.at("ticket")?.stringValue == "P2" }?.at("busy")?.boolValue == false)
        let (_, detail) = try s.mcrunJSON(["ps", "--busy-detail"])
        let p2 = detail.at("runtimes")?.arrayValue?.first { $0.at("ticket")?.stringValue == "P2" }
        #expect(p2?.at("busy_source")?.stringValue == "screen")
        #expect(try s.mcrun(["config", "busy-pattern", "none"]).status == 0)
        #expect(try s.mcrun(["send", "P2", "hello"]).status == 0)
    }

    @Test func deadOrMissingAgent() throws {
        let s = try Scratch(name: "senddead")
        defer { s.cleanup() }
        let (none, notFound) = try s.mcrunJSON(["send", "X1", "hi"])
        #expect(none.status == 3)
        #expect(notFound.at("reason")?.stringValue == "no_runtime")
        #expect(try s.mcrun(["send", "X1"]).status == 2)
        #expect(try s.mcrun(["send", "X1", "a", "--queue", "--interrupt"]).status == 2)

        let (result, json) = try startJSON(s, "X1", command: ["sleep", "1000"])
        try #require(result.status == 0)
        kill(Int32(try #require(json.at("runtime.pid")?.intValue)), SIGKILL)
        try waitUntil("the agent is gone") {
            let (_, ps) = try s.mcrunJSON(["ps"])
            return ps.at("runtimes")?.arrayValue?.first?.at("alive")?.boolValue == false
        }
        let (dead, declined) = try s.mcrunJSON(["send", "X1", "hi", "--queue"])
        #expect(dead.status == 6)
        #expect(declined.at("reason")?.stringValue == "agent_dead")
    }
}

@Suite(.serialized, .timeLimit(.minutes(2)))
struct SendQueueWithoutHooksTests {
    /// Without hooks nobody reports idle, so the next send that finds the agent idle
    /// delivers the oldest queued message first; nothing overtakes the queue.
    @Test func sendsDrainTheQueueInOrderAndNeverOvertakeIt() throws {
        let s = try Scratch(name: "sendnohook")
        defer { s.cleanup() }
        #expect(try s.mcrun(["config", "busy-window", "2"]).status == 0)
        let (agent, _) = try RecordingAgent.start(s, ticket: "N1", hooks: false)
        func paneIdle() throws -> Bool {
            let (_, ps) = try s.mcrunJSON(["ps"])
            return ps.at("runtimes")?.arrayValue?.first?.at("busy")?.boolValue == false
        }
        let m1 = Array("one".utf8)
        let m2 = Array("two".utf8)
        // Just started, the pane has fresh output: busy by the pane, so the message waits.
        if try !paneIdle() {
            let (q1, j1) = try s.mcrunJSON(["send", "N1", "--queue", "one"])
            #expect(q1.status == 0)
            #expect(j1.at("delivered")?.boolValue == false)
            #expect(j1.at("busy_source")?.stringValue == "pane")
            try waitUntil("the pane is quiet") { try paneIdle() }
            // Idle now: the queued message goes first, the new one waits behind it.
            let (q2, j2) = try s.mcrunJSON(["send", "N1", "--queue", "two"])
            #expect(q2.status == 0)
            #expect(j2.at("flushed_queue_id") == j1.at("queued_id"))
            #expect(j2.at("delivered")?.boolValue == false)
        } else {
            Issue.record("the pane was already quiet right after start")
        }
        try agent.waitForRecording(pasted(m1))
        // A plain send that finds messages pending delivers the oldest and answers 409.
        let (plain, refusal) = try s.mcrunJSON(["send", "N1", "three"])
        #expect(plain.status == 4)
        #expect(refusal.at("reason")?.stringValue == "agent_busy")
        try agent.waitForRecording(pasted(m1) + pasted(m2))
        #expect(agent.recorded == pasted(m1) + pasted(m2))
        // Queue empty, agent idle: delivered at once.
        let (now, j3) = try s.mcrunJSON(["send", "N1", "--queue", "three"])
        #expect(now.status == 0)
        #expect(j3.at("delivered")?.boolValue == true)
        try agent.waitForRecording(pasted(m1) + pasted(m2) + pasted(Array("three".utf8)))
    }

    @Test func activityReportsAreCheckedAgainstTheEpisode() throws {
        let s = try Scratch(name: "hookcheck")
        defer { s.cleanup() }
        let noEpisode = try s.mcrunJSON(["activity", "busy"])
        #expect(noEpisode.result.status == 2)
        #expect(noEpisode.json.at("reason")?.stringValue == "no_episode")
        let (result, _) = try startJSON(s, "H1", command: ["sleep", "1000"])
        try #require(result.status == 0)
        let nonce = try #require(try s.context().ledger.runtime(ticket: "H1", episode: nil)?.nonce)
        let wrong = try s.mcrunJSON(["activity", "busy", "--ticket", "H1", "--episode", "1", "--nonce", "0000"])
        #expect(wrong.result.status == 6)
        #expect(wrong.json.at("reason")?.stringValue == "bad_nonce")
        let unknown = try s.mcrunJSON(["activity", "busy", "--ticket", "H1", "--episode", "7", "--nonce", nonce])
        #expect(unknown.json.at("reason")?.stringValue == "unknown_episode")
        // The earlier spelling, `mcrun hook activity`, still works for configurations written for it.
        let right = try s.mcrunJSON(["hook", "activity", "busy", "--ticket", "H1", "--episode", "1", "--nonce", nonce])
        #expect(right.result.status == 0, "\(right.result.stderrText)")
        let (_, ps) = try s.mcrunJSON(["ps"])
        #expect(ps.at("runtimes")?.arrayValue?.first?.at("busy")?.boolValue == true)
        #expect(ps.at("runtimes")?.arrayValue?.first?.at("busy_source")?.stringValue == "hook")
        let (_, show) = try s.mcrunJSON(["show", "H1"])
        let rejected = show.at("events")?.arrayValue?.filter { $0.at("kind")?.stringValue == "activity_rejected" } ?? []
        #expect(rejected.compactMap { $0.at("reason")?.stringValue } == ["bad_nonce", "unknown_episode"])
    }
}
