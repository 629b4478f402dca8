import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// A stand-in for Claude Code as far as its hooks go: raw terminal, bracketed paste, and
/// for each submitted paste the hooks Claude Code runs, through `mcrun agent report` with
/// the JSON Claude Code writes: `UserPromptSubmit` carrying the prompt as Claude Code
/// submits it (line ends as LF, surrounding whitespace trimmed), then `Stop`.
let promptHookAgent = #"""
    import json, os, subprocess, sys, tty
    out_path, mcrun = sys.argv[1], sys.argv[2]
    tty.setraw(0)
    os.write(1, b"\x1b[?2004h")
    def hook(event, **fields):
        payload = dict(session_id="5f1c9a2e-0000-4000-8000-00000000abcd", transcript_path=out_path + ".jsonl",
                       cwd=os.getcwd(), permission_mode="default", hook_event_name=event, **fields)
        subprocess.run([mcrun, "agent", "report"], input=json.dumps(payload).encode(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hook("SessionStart", source="startup")
    hook("Stop", stop_hook_active=False)
    os.write(1, b"ready\r\n")
    START, END = b"\x1b[200~", b"\x1b[201~\r"
    buf = b""
    with open(out_path, "ab", buffering=0) as out:
        while True:
            chunk = os.read(0, 1 << 16)
            if not chunk:
                break
            out.write(chunk)
            buf += chunk
            while END in buf:
                head, buf = buf.split(END, 1)
                text = head.split(START, 1)[-1].decode("utf-8", "replace")
                hook("UserPromptSubmit", prompt=text.replace("\r\n", "\n").replace("\r", "\n").strip())
                hook("Stop", stop_hook_active=False)
    """#

/// A tmux that holds the first call of `command` (by default `load-buffer`: the first
/// paste) until the test creates `go`: a paste in flight, as long as the test needs it.
/// Every other call, and every later one of `command`, is tmux itself.
func gatedTmux(_ s: Scratch, on command: String = "load-buffer") throws -> String {
    try s.script(
        "gated-tmux",
        """
        #!/bin/sh
        case " $* " in
        *" \(command) "*)
            if mkdir '\(s.path("gate.claimed"))' 2>/dev/null; then
                while [ ! -e '\(s.path("go"))' ]; do sleep 0.01; done
            fi ;;
        esac
        exec tmux "$@"
        """)
}

/// `bytes` printable bytes and line ends, without anything that would leave a paste.
func largeMessage(_ bytes: Int, seed: UInt64) -> [UInt8] {
    var state = seed | 1
    var out: [UInt8] = []
    out.reserveCapacity(bytes)
    while out.count < bytes {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        let r = Int(state % 97)
        out.append(r == 0 ? 0x0a : UInt8(0x20 + r % 95))
    }
    return out
}

@Suite(.serialized, .timeLimit(.minutes(3)))
struct SendDeliveryTests {
    /// A quiet agent without hooks: each send finds it idle by its pane.
    static func quietAgent(_ s: Scratch, ticket: String) throws -> RecordingAgent {
        #expect(try s.mcrun(["config", "busy-window", "1ms"]).status == 0)
        let agent = try RecordingAgent.start(s, ticket: ticket, hooks: false).0
        try waitUntil("the pane of \(ticket) is quiet") {
            let (_, ps) = try s.mcrunJSON(["ps"])
            return ps.at("runtimes")?.arrayValue?.first?.at("busy")?.boolValue == false
        }
        return agent
    }

    static func messages(_ s: Scratch, _ ticket: String) throws -> [JSONValue] {
        try s.mcrunJSON(["show", ticket]).json.at("queue")?.arrayValue ?? []
    }

    static func states(_ s: Scratch, _ ticket: String) throws -> [String] {
        try messages(s, ticket).compactMap { $0.at("state")?.stringValue }
    }

    static func events(_ s: Scratch, _ ticket: String, kind: String) throws -> [JSONValue] {
        try s.mcrunJSON(["show", ticket, "--events", "200"]).json.at("events")?.arrayValue?.filter { $0.at("kind")?.stringValue == kind } ?? []
    }

    /// An agent with a prompt hook confirms what it received; ps, show and the events say
    /// so; a 200 KB message still arrives byte-exact in one bracketed paste.
    @Test func aPromptHookConfirmsTheDelivery() throws {
        let s = try Scratch(name: "receipt")
        defer { s.cleanup() }
        let script = try s.write("claude.py", promptHookAgent)
        let output = s.path("C1.rec")
        let (started, json) = try startJSON(s, "C1", command: ["python3", script, output, Scratch.mcrunPath])
        try #require(started.status == 0, "\(started.stderrText)")
        try waitUntil("the stand-in is ready and idle by its hooks") {
            let screen = try s.tmux(["capture-pane", "-p", "-t", json.at("runtime.pane")?.stringValue ?? "-"]).stdoutText
            let runtime = try s.context().ledger.runtime(ticket: "C1", episode: nil)
            return screen.contains("ready") && runtime?.busySource == "hook" && runtime?.busy == false
        }
        var recorded: [UInt8] { FileManager.default.contents(atPath: output).map { [UInt8]($0) } ?? [] }

        // Trailing blank lines and spaces, CRLF: what the hook reports is the trimmed text.
        let first = Array("fix the parser  \r\nthen run the tests\n\n".utf8)
        let (sent, reply) = try s.mcrunJSON(["send", "C1", "--receipt", "10s", "-"], stdin: first)
        #expect(sent.status == 0, "\(sent.stderrText)")
        let firstID = try #require(reply.at("send_id")?.intValue)
        #expect(reply.at("state")?.stringValue == "confirmed")
        #expect(reply.at("recorded")?.boolValue == true)
        #expect(recorded == pasted(first))

        try waitUntil("the stand-in is idle again") { try s.context().ledger.runtime(ticket: "C1", episode: nil)?.busy == false }
        let large = largeMessage(200 * 1024, seed: 0x5eed)
        let (big, bigReply) = try s.mcrunJSON(["send", "C1", "--receipt", "20s", "-"], stdin: large, timeoutMilliseconds: 60_000)
        #expect(big.status == 0, "\(big.stderrText)")
        #expect(bigReply.at("state")?.stringValue == "confirmed")
        let expected = pasted(first) + pasted(large)
        try waitUntil("the 200 KB message arrived", timeout: 30) { recorded.count >= expected.count }
        // One paste: one start marker, one end marker, the bytes exactly between them.
        #expect(recorded == expected, "first difference at \(zip(recorded, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1)")

        let (_, ps) = try s.mcrunJSON(["ps"])
        let row = ps.at("runtimes")?.arrayValue?.first { $0.at("ticket")?.stringValue == "C1" }
        #expect(row?.at("last_send.state")?.stringValue == "confirmed")
        #expect(row?.at("last_send.id")?.intValue == bigReply.at("send_id")?.intValue)
        #expect(row?.at("last_send.bytes")?.intValue == Int64(large.count))
        let show = try Self.messages(s, "C1")
        #expect(show.map { $0.at("state")?.stringValue } == ["confirmed", "confirmed"])
        #expect(show.first?.at("id")?.intValue == firstID)
        #expect(show.allSatisfy { $0.at("confirmed_at")?.doubleValue != nil })
        let confirmations = try Self.events(s, "C1", kind: "send_confirmed").compactMap { $0.at("data.send_id")?.intValue }
        #expect(confirmations == [firstID, try #require(bigReply.at("send_id")?.intValue)])
        let sends = try Self.events(s, "C1", kind: "send").compactMap { $0.at("data.send_id")?.intValue }
        #expect(sends.contains(firstID))
    }

    /// Without a prompt hook nothing can confirm: the state stays `pasted`.
    @Test func withoutAPromptHookADeliveryStaysPasted() throws {
        let s = try Scratch(name: "noreceipt")
        defer { s.cleanup() }
        let agent = try Self.quietAgent(s, ticket: "P1")
        let (sent, reply) = try s.mcrunJSON(["send", "P1", "--receipt", "300ms", "hello"])
        #expect(sent.status == 0, "\(sent.stderrText)")
        #expect(reply.at("state")?.stringValue == "pasted")
        #expect(try s.mcrun(["send", "P1", "--receipt", "300ms", "hello"]).stdoutText.contains("no receipt within"))
        try agent.waitForRecording(pasted(Array("hello".utf8)) + pasted(Array("hello".utf8)))
        #expect(try Self.states(s, "P1") == ["pasted", "pasted"])
        #expect(try Self.events(s, "P1", kind: "send_confirmed").isEmpty)
        #expect(try s.mcrun(["send", "P1", "--receipt", "2h", "x"]).status == 2)
    }

    /// The reproduction: the ledger is locked while a large paste is in flight. The agent
    /// got the message, so send exits 0 and says the delivery is not recorded yet; once the
    /// lock is gone the next send records it `pasted` from the sender's note, and nothing is
    /// typed twice.
    @Test func aLedgerLockedDuringTheSendStillReportsTheDelivery() throws {
        let s = try Scratch(name: "sendlock")
        defer { s.cleanup() }
        let agent = try Self.quietAgent(s, ticket: "L1")
        s.environment["MCRUN_TMUX"] = try gatedTmux(s)
        s.environment["MCRUN_BUSY_TIMEOUT"] = "300ms"
        let message = largeMessage(1 << 20, seed: 0x10c4)
        let file = s.path("message.txt")
        #expect(FileManager.default.createFile(atPath: file, contents: Data(message)))
        let sender = try s.spawnMcrun(["send", "L1", "--json", "--file", file])
        try waitUntil("the message is on its way") { try Self.states(s, "L1") == ["delivering"] }
        let lock = try s.holdLedgerLock()
        #expect(FileManager.default.createFile(atPath: s.path("go"), contents: Data()))
        let result = sender.collect(stdin: nil, timeoutMilliseconds: 30_000)
        #expect(result.status == 0, "\(result.stderrText)")
        let reply = try JSONDecoder().decode(JSONValue.self, from: Data(result.stdout))
        #expect(reply.at("delivered")?.boolValue == true)
        #expect(reply.at("recorded")?.boolValue == false)
        #expect(reply.at("state")?.stringValue == "pasted")
        #expect(result.stderrText.contains("not yet recorded") && result.stderrText.split(separator: "\n").count == 1, "\(result.stderrText)")
        try agent.waitForRecording(pasted(message), timeout: 30)
        #expect(agent.recorded == pasted(message))
        #expect(try Self.states(s, "L1") == ["delivering"])

        lock.release()
        // What serve's send-queue pass does: the note becomes the record.
        #expect(try Sender(context: s.context()).recordNotedPastes() == 1)
        #expect(try Self.states(s, "L1") == ["pasted"])
        #expect(try s.mcrun(["send", "L1", "next"]).status == 0)
        #expect(try Self.states(s, "L1") == ["pasted", "pasted"])
        let late = try Self.events(s, "L1", kind: "send").filter { $0.at("data.recorded_late")?.boolValue == true }
        #expect(late.compactMap { $0.at("data.send_id")?.intValue } == [try #require(reply.at("send_id")?.intValue)])
        let expected = pasted(message) + pasted(Array("next".utf8))
        try agent.waitForRecording(expected)
        try holdsFalse("something more is typed", for: 0.5) { agent.recorded.count > expected.count }
        #expect(agent.recorded == expected)
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.stateDir + "/sends").isEmpty)
    }

    /// The reproduction with tmux itself: the server is stopped (SIGSTOP) as the paste
    /// begins, so the sender's real tmux client waits on it; the sender is killed. The next
    /// send kills that client before the server runs again; the old message never arrives.
    /// A sender of a large message to `ticket` killed while its real tmux client waits on
    /// the tmux server, stopped (SIGSTOP) as the paste began. The server stays stopped (the
    /// scratch's cleanup continues it); returns its pid and a way to list the clients of
    /// senders still running.
    static func killSenderMidPaste(_ s: Scratch, ticket: String) throws -> (server: Int32, clients: () -> [Int32]) {
        let server = try #require(Int32(try s.tmux(["display-message", "-p", "#{pid}"]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)))
        s.onCleanup { kill(server, SIGCONT) }
        s.environment["MCRUN_TMUX"] = try s.script(
            "stopping-tmux",
            """
            #!/bin/sh
            case " $* " in
            *" load-buffer "*) mkdir '\(s.path("stopped"))' 2>/dev/null && kill -STOP \(server) ;;
            esac
            exec tmux "$@"
            """)
        let file = s.path("message.txt")
        #expect(FileManager.default.createFile(atPath: file, contents: Data(largeMessage(256 * 1024, seed: 0x570b))))
        let first = try s.spawnMcrun(["send", ticket, "--file", file])
        let marker = Array("MCRUN_SEND_CLIENT=\(s.stateDir)#".utf8)
        let clients = {
            ProcFS.allPIDs().filter { pid in
                guard let stat = ProcFS.stat(pid), !stat.hasExited else { return false }
                return ProcFS.environ(pid)?.contains { $0.starts(with: marker) } ?? false
            }
        }
        try waitUntil("the sender's tmux client waits on the stopped server") {
            try Self.states(s, ticket) == ["delivering"] && ProcFS.stat(server)?.state == UInt8(ascii: "T")
                && clients().contains { ProcFS.cmdline($0)?.first.map { $0.hasSuffix("tmux") } ?? false }
        }
        kill(first.pid, SIGKILL)
        _ = first.collect(stdin: nil, timeoutMilliseconds: 5_000)
        #expect(!clients().isEmpty, "the killed sender's tmux client should outlive it")
        return (server, clients)
    }

    @Test func theOrphanedTmuxClientOfAKilledSenderNeverPastes() throws {
        let s = try Scratch(name: "sendstop")
        defer { s.cleanup() }
        let agent = try Self.quietAgent(s, ticket: "T1")
        let (server, clients) = try Self.killSenderMidPaste(s, ticket: "T1")

        let second = try s.spawnMcrun(["send", "T1", "--json", "second"])
        try waitUntil("the next send settled the old message") { try Self.states(s, "T1").first == "uncertain" && clients().isEmpty }
        kill(server, SIGCONT)
        let result = second.collect(stdin: nil, timeoutMilliseconds: 30_000)
        #expect(result.status == 0, "\(result.stderrText)")
        #expect(try Self.states(s, "T1") == ["uncertain", "pasted"])
        let uncertain = try Self.events(s, "T1", kind: "send_uncertain")
        #expect(uncertain.first?.at("reason")?.stringValue == "sender_died")
        #expect((uncertain.first?.at("data.tmux_clients_killed")?.intValue ?? 0) >= 1)
        let expected = pasted(Array("second".utf8))
        try agent.waitForRecording(expected)
        try holdsFalse("the old message is pasted late", for: 1.5) { agent.recorded.count > expected.count }
        #expect(agent.recorded == expected)
    }

    /// With no other send coming, serve's pass settles it: the client is killed, the
    /// message `uncertain`, and nothing arrives when the tmux server runs again.
    @Test func serveSettlesWhatADeadSenderLeftWithoutAnotherSend() throws {
        let s = try Scratch(name: "sendsettle")
        defer { s.cleanup() }
        let agent = try Self.quietAgent(s, ticket: "U1")
        let (server, clients) = try Self.killSenderMidPaste(s, ticket: "U1")
        // What SendQueueDrainer runs on each pass of serve.
        #expect(try Sender(context: s.context()).settleAbandoned() == 1)
        #expect(clients().isEmpty, "the orphaned client still runs")
        #expect(try Self.states(s, "U1") == ["uncertain"])
        kill(server, SIGCONT)
        try holdsFalse("the old message is pasted late", for: 1.5) { !agent.recorded.isEmpty }
        #expect(try Sender(context: s.context()).settleAbandoned() == 0)
    }
}

@Suite(.serialized, .timeLimit(.minutes(2)))
struct StartUnrecordedTests {
    /// `start` gives up on a launch whose shim is still waiting for the ledger, and cannot
    /// record the failure either: it must not report a failure and leave the shim to start
    /// the agent once the lock goes. The session is removed; nothing runs; the next start
    /// ends the abandoned launch and starts the ticket.
    @Test func aStartThatCannotRecordItsFailureLeavesNoAgentRunning() throws {
        let s = try Scratch(name: "startlock")
        defer { s.cleanup() }
        // The tmux server comes from a plain start: the shims it runs wait 5 s for a lock.
        try #require(try s.mcrun(["start", "A1", "--", "sleep", "1000"]).status == 0)
        s.environment["MCRUN_TMUX"] = try gatedTmux(s, on: "new-session")
        s.environment["MCRUN_BUSY_TIMEOUT"] = "300ms"
        let starter = try s.spawnMcrun(["start", "B1", "--json", "--timeout", "1s", "--", "sleep", "1000"])
        try waitUntil("B1 is admitted") { try s.context().ledger.runtime(ticket: "B1", episode: nil)?.state == .launching }
        let lock = try s.holdLedgerLock()
        #expect(FileManager.default.createFile(atPath: s.path("go"), contents: Data()))
        let result = starter.collect(stdin: nil, timeoutMilliseconds: 30_000)
        #expect(result.status == 1, "\(result.stderrText)")
        #expect(result.errorJSON?.at("reason")?.stringValue == "launch_failed", "\(result.stdoutText)")
        #expect(result.stderrText.contains("no agent runs"), "\(result.stderrText)")
        lock.release()
        let nonce = try #require(try s.context().ledger.runtime(ticket: "B1", episode: nil)?.nonce)
        try holdsFalse("B1's agent starts after start reported its failure", for: 2) {
            try s.context().ledger.runtime(ticket: "B1", episode: nil)?.state == .running || !processes(withNonce: nonce).isEmpty
        }
        let (again, json) = try startJSON(s, "B1", command: ["sleep", "1000"])
        #expect(again.status == 0, "\(again.stderrText)")
        #expect(json.at("runtime.episode")?.intValue == 2)
    }
}
