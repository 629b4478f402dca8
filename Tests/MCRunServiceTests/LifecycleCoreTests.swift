import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// The lifecycle core: one ending path (the end recorded before the teardown), whoever
/// touches a dead runtime reaps it, an owed relaunch is never dropped, escalated means held.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct LifecycleCoreTests {
    /// Without `serve`, an agent that exited used to wedge its ticket: every `start` answered
    /// 409 busy while `alive` was false. The next writing command records the death (once,
    /// with its exit status) and `start` begins a new episode.
    @Test func anAgentThatExitedWithoutServeDoesNotWedgeItsTicket() throws {
        let s = try Scratch(name: "wedge")
        defer { s.cleanup() }
        _ = try s.startAgent("W1", ["sh", "-c", "exit 3"])
        let first = try #require(try s.runtimes("W1").first)
        try waitUntil("the agent exited") { first.identity?.liveness() != .alive }

        let (start, json) = try s.mcrunJSON(["start", "W1", "--", "sleep", "1000"])
        #expect(start.status == 0, "\(start.stderrText)")
        #expect(json.at("runtime.episode")?.intValue == 2)
        let runtimes = try s.runtimes("W1")
        #expect(runtimes.map(\.state) == [.dead, .running])
        #expect(runtimes[0].exitCode == 3)
        #expect(runtimes[0].teardownOwed == false)
        #expect(try s.ticketRow("W1")?.deaths == 1)
        #expect(try s.events("death", ticket: "W1").count == 1)
        // The start supersedes the relaunch the death made owed.
        #expect(try s.events("retry_cancelled", ticket: "W1").map(\.reason) == ["superseded_by_start"])
        #expect(try s.context().ledger.pendingRetry(ticket: "W1") == nil)
    }

    /// `stop` of an agent that already died records a death, not an operator stop.
    @Test func stopOfADeadRuntimeRecordsADeathNotAStop() throws {
        let s = try Scratch(name: "stopdead")
        defer { s.cleanup() }
        _ = try s.startAgent("S1", ["sh", "-c", "exit 3"])
        let first = try #require(try s.runtimes("S1").first)
        try waitUntil("the agent exited") { first.identity?.liveness() != .alive }

        let (stop, json) = try s.mcrunJSON(["stop", "S1"])
        #expect(stop.status == 0, "\(stop.stderrText)")
        #expect(json.at("runtime.state")?.stringValue == "dead")
        #expect(json["died_first"]?.boolValue == true)
        let row = try #require(try s.runtimes("S1").first)
        #expect(row.state == .dead)
        #expect(row.exitCode == 3)
        #expect(row.endReason == "agent_exited")
        #expect(try s.ticketRow("S1")?.deaths == 1)
        #expect(try s.events("stop", ticket: "S1").isEmpty)
        // Stop still means "do not relaunch": the retry the death made owed is cancelled.
        #expect(try s.events("retry_cancelled", ticket: "S1").count == 1)
        #expect(try s.tmux(["has-session", "-t", "=S1@1"]).status != 0)
    }

    /// With `serve` watching and commands touching the same dead runtimes at once, each death
    /// is recorded and counted exactly once.
    @Test func aDeathIsCountedOnceWhoeverNoticesItFirst() throws {
        let s = try Scratch(name: "countonce")
        defer { s.cleanup() }
        let serve = try ServeProcess(s, arguments: ["--retry-delay", "60s", "--reconcile-interval", "60s"])
        try serve.waitUntilReady()
        let tickets = (1...6).map { "C\($0)" }
        let agents = try tickets.map { try s.startAgent($0, ["sleep", "1000"]) }
        for agent in agents { kill(agent, SIGKILL) }
        let senders = try tickets.map { try s.spawnMcrun(["send", $0, "hello"]) }
        for sender in senders { _ = sender.collect(stdin: nil, timeoutMilliseconds: 20_000) }
        try waitUntil("every death recorded and torn down") {
            try tickets.allSatisfy { try s.runtimes($0).first.map { $0.state == .dead && !$0.teardownOwed } == true }
        }
        for ticket in tickets {
            #expect(try s.ticketRow(ticket)?.deaths == 1, "\(ticket)")
            #expect(try s.events("death", ticket: ticket).count == 1, "\(ticket)")
            #expect(try s.runtimes(ticket).first?.exitSignal == 9, "\(ticket)")
        }
    }

    /// Phase one alone (a crash right after the end was recorded): the exit status and last
    /// screen are in the ledger, the teardown is marked owed; the next `serve` finishes it.
    @Test func theEndIsRecordedBeforeTheTeardownAndACrashInBetweenLosesNothing() throws {
        let s = try Scratch(name: "owed")
        defer { s.cleanup() }
        let agent = try s.script(
            "agent.sh",
            """
            #!/bin/sh
            echo "last words"
            setsid sh -c 'trap "" HUP; exec sleep 1000' &
            exec sleep 1000
            """)
        let pid = try s.startAgent("O1", [agent])
        let nonce = try #require(try s.runtimes("O1").first?.nonce)
        try waitUntil("the leftover is running") { Self.processes(withNonce: nonce).count == 2 }
        kill(pid, SIGKILL)
        let live = try #require(try s.runtimes("O1").first)
        try waitUntil("the agent is gone") { live.identity?.liveness() != .alive }

        let ended = try Ending(context: try s.context()).record([Ending.Subject(live, .death(.exited))])
        #expect(ended.first?.applied == true)
        var row = try #require(try s.runtimes("O1").first)
        #expect(row.state == .dead)
        #expect(row.exitSignal == 9)
        #expect(row.teardownOwed)
        #expect(Self.processes(withNonce: nonce).count == 1, "nothing is torn down before the end is recorded")

        let serve = try ServeProcess(s, arguments: ["--retry-delay", "60s", "--reconcile-interval", "500ms"])
        try serve.waitUntilReady()
        try waitUntil("the owed teardown finished") { try s.runtimes("O1").first?.teardownOwed == false }
        row = try #require(try s.runtimes("O1").first)
        #expect(Self.processes(withNonce: nonce).isEmpty)
        #expect(row.leftoversKilled == 1)
        #expect(row.exitSignal == 9)
        // Read by the teardown before it removed the session.
        #expect(row.lastScreen?.contains("last words") == true, "\(row.lastScreen.debugDescription)")
        #expect(try s.tmux(["has-session", "-t", "=O1@1"]).status != 0)
        #expect(try s.events("teardown", ticket: "O1").count == 1)
        #expect(try s.events("death", ticket: "O1").count == 1)
        #expect(try s.ticketRow("O1")?.deaths == 1)
    }

    /// A relaunch whose launcher (`serve`) was killed before the shim recorded the agent used
    /// to be marked `launch_failed` and dropped. It is owed again and relaunched once.
    @Test func aRelaunchWhoseLauncherVanishedIsOwedAgain() throws {
        let s = try Scratch(name: "owedagain")
        defer { s.cleanup() }
        let hang = s.path("hang-new-session")
        let hung = s.path("hung.pid")
        // A tmux that hangs on new-session while `hang` exists: the relaunch stays in flight.
        let tmux = try s.script(
            "tmux",
            """
            #!/bin/sh
            for a in "$@"; do
              if [ "$a" = new-session ] && [ -e '\(hang)' ]; then echo $$ > '\(hung)'; exec sleep 1000; fi
            done
            exec tmux "$@"
            """)
        let first = try s.startAgent("R1", ["sleep", "1000"])
        var serve = try ServeProcess(s, arguments: ["--retry-delay", "100ms"], environment: ["MCRUN_TMUX": tmux])
        try serve.waitUntilReady()
        _ = try s.write("hang-new-session", "")
        kill(first, SIGKILL)
        try waitUntil("the relaunch admitted and hanging in tmux") {
            try s.runtimes("R1").count == 2 && FileManager.default.fileExists(atPath: hung)
        }
        kill(serve.pid, SIGKILL)
        _ = serve.waitForExit(timeout: 5)
        if let text = try? String(contentsOfFile: hung, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            kill(pid, SIGKILL)
        }
        #expect(try s.runtimes("R1").map(\.state) == [.dead, .launching])
        unlink(hang)

        serve = try ServeProcess(s, arguments: ["--retry-delay", "100ms", "--reconcile-interval", "300ms"], log: "serve2.log")
        try serve.waitUntilReady()
        try waitUntil("the owed relaunch started as episode 3") {
            let r = try s.runtimes("R1")
            return r.count == 3 && r[2].state == .running
        }
        let runtimes = try s.runtimes("R1")
        #expect(runtimes[1].state == .launchFailed)
        #expect(runtimes[1].endReason == "launcher_gone")
        #expect(runtimes[2].relaunchOf == runtimes[0].id)
        #expect(try s.events("retry_owed", ticket: "R1").count == 1)
        #expect(try s.ticketRow("R1")?.deaths == 1)
        #expect(try s.ticketRow("R1")?.escalated == false)
        try holdsFalse("a fourth episode", for: 1, every: 0.1) { try s.runtimes("R1").count > 3 }
    }

    /// A relaunch that fails in the agent's own command (here its file can no longer be
    /// executed) is not owed again: the ticket escalates, with the reason.
    @Test func aRelaunchThatCannotExecTheAgentEscalates() throws {
        let s = try Scratch(name: "execfail")
        defer { s.cleanup() }
        let agent = try s.script("agent", "#!/bin/sh\nexec sleep 1000\n")
        let pid = try s.startAgent("X1", [agent])
        let serve = try ServeProcess(s, arguments: ["--retry-delay", "100ms", "--reconcile-interval", "500ms"])
        try serve.waitUntilReady()
        // Still executable, no longer a program the kernel can run (no #! line, no ELF header).
        _ = try s.write("agent", "not a program\n", mode: 0o755)
        kill(pid, SIGKILL)
        try waitUntil("the relaunch failed and the ticket escalated") { try s.ticketRow("X1")?.escalated == true }
        let runtimes = try s.runtimes("X1")
        #expect(runtimes.map(\.state) == [.dead, .launchFailed])
        #expect(runtimes[1].endReason == "exec_failed")
        #expect(runtimes[1].relaunchOf == runtimes[0].id)
        #expect(try s.ticketRow("X1")?.escalatedReason?.contains("exec_failed") == true)
        #expect(try s.events("retry_owed", ticket: "X1").isEmpty)
        try holdsFalse("another relaunch after the escalation", for: 1, every: 0.1) { try s.runtimes("X1").count > 2 }
    }

    /// An escalated ticket is held: `start` and `adopt` refuse it (exit 5 `escalated`) until
    /// `mcrun reset`; `--force` starts it and says so on the launch event. The death that
    /// escalated it was recorded by a command, with the host's policy, without `serve`.
    @Test func escalatedMeansHeldUntilResetOrForce() throws {
        let s = try Scratch(name: "held")
        defer { s.cleanup() }
        #expect(try s.mcrun(["config", "max-silent-retries", "0"]).status == 0)
        let agent = try s.startAgent("E1", ["sleep", "1000"])
        kill(agent, SIGKILL)
        let live = try #require(try s.runtimes("E1").first)
        try waitUntil("the agent is gone") { live.identity?.liveness() != .alive }
        let (send, declined) = try s.mcrunJSON(["send", "E1", "hello"])
        #expect(send.status == 6)
        #expect(declined["reason"]?.stringValue == "agent_dead")
        #expect(try s.ticketRow("E1")?.escalated == true)

        let (start, refused) = try s.mcrunJSON(["start", "E1", "--", "sleep", "1000"])
        #expect(start.status == 5)
        #expect(refused["reason"]?.stringValue == "escalated")
        #expect(try s.mcrunJSON(["adopt", "E1"]).json["reason"]?.stringValue == "escalated")
        #expect(try s.runtimes("E1").count == 1)

        let (forced, json) = try s.mcrunJSON(["start", "E1", "--force", "--", "sleep", "1000"])
        #expect(forced.status == 0, "\(forced.stderrText)")
        #expect(json.at("runtime.episode")?.intValue == 2)
        #expect(try s.events("launch", ticket: "E1").last?.data["forced_past_escalation"]?.boolValue == true)
    }

    /// A `start` that loses a race to `park` exits 5 `ticket_parked` (it used to exit 1
    /// `launch_failed`), and leaves no session or process behind.
    @Test func aStartThatLosesToParkIsRefusedAsParked() throws {
        let s = try Scratch(name: "losepark")
        defer { s.cleanup() }
        let gate = s.path("go")
        // A tmux whose new-session waits for the gate: the start stays launching meanwhile.
        let tmux = try s.script(
            "tmux",
            """
            #!/bin/sh
            for a in "$@"; do
              if [ "$a" = new-session ]; then
                i=0; while [ ! -e '\(gate)' ] && [ $i -lt 2000 ]; do sleep 0.01; i=$((i+1)); done
              fi
            done
            exec tmux "$@"
            """)
        s.environment["MCRUN_TMUX"] = tmux
        let start = try s.spawnMcrun(["start", "P1", "--json", "--", "sleep", "1000"])
        s.environment["MCRUN_TMUX"] = nil
        try waitUntil("the start admitted") { try s.runtimes("P1").first?.state == .launching }
        let (park, _) = try s.mcrunJSON(["park", "P1", "--reason", "review"])
        #expect(park.status == 0, "\(park.stderrText)")
        _ = try s.write("go", "")
        let result = start.collect(stdin: nil, timeoutMilliseconds: 20_000)
        #expect(result.status == 5, "\(result.stderrText)")
        #expect(result.errorJSONReason == "ticket_parked")
        let row = try #require(try s.runtimes("P1").first)
        #expect(row.state == .stopped)
        try waitUntil("no session left") { try s.tmux(["has-session", "-t", "=P1@1"]).status != 0 }
        #expect(Self.processes(withNonce: row.nonce).isEmpty)
    }

    static func processes(withNonce nonce: String) -> [Int32] {
        let marker = Array("MCRUN_NONCE=\(nonce)".utf8)
        return ProcFS.allPIDs().filter { pid in
            guard let stat = ProcFS.stat(pid), !stat.hasExited else { return false }
            return ProcFS.environ(pid)?.contains(where: { $0 == marker }) ?? false
        }
    }
}

extension Subprocess.Result {
    var errorJSONReason: String? {
        (try? JSONDecoder().decode(JSONValue.self, from: Data(stdoutText.utf8)))?["reason"]?.stringValue
    }
}
