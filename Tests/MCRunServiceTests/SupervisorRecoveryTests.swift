import Foundation
import Glibc
import Logging
import MCRunCore
import MCRunService
import MCRunTestSupport
import Testing

/// The supervisor's recovery paths: retries found by a pass, refused relaunches, healing a
/// runtime wrongly recorded dead, taking over an abandoned stop, the send queue.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct SupervisorRecoveryTests {
    static let fast = ["--retry-delay", "300ms", "--reconcile-interval", "1s"]

    /// A death recorded by a pass (here: one that happened while serve was down) is
    /// relaunched after the retry delay, not at the pass after.
    @Test func aRetryOwedForADeathFoundByAPassIsNotLeftForTheNextPass() throws {
        let s = try Scratch(name: "passretry")
        defer { s.cleanup() }
        let agent = try s.startAgent("LATE", ["sleep", "1000"])
        kill(agent, SIGKILL)
        try waitUntil("the agent to be gone") { !isAlive(agent) }

        let serve = try ServeProcess(s, arguments: ["--reconcile-interval", "30s", "--retry-delay", "300ms"])
        try serve.waitUntilReady()
        try waitUntil("the relaunch, well before the next pass in 30 s", timeout: 5) {
            let r = try s.runtimes("LATE")
            return r.count == 2 && r[0].state == .dead && r[1].state == .running
        }
        #expect(try s.events("retry", ticket: "LATE").count == 1)
    }

    /// A handler told that the agent is alive (or unknown) must not record its death nor
    /// tear anything down: a live agent is never recorded dead.
    @Test func theDeathHandlerRefusesAnAgentThatIsNotGone() throws {
        let s = try Scratch(name: "deathalive")
        defer { s.cleanup() }
        let agent = try s.startAgent("LIVE", ["sleep", "1000"])
        let runtime = try #require(try s.runtimes("LIVE").first)
        let identity = try #require(runtime.identity)
        #expect(identity.liveness() == .alive)
        let ending = Ending(context: try s.context())
        for liveness in [identity.liveness(), AgentIdentity.Liveness.unknown] {
            #expect(throws: MCRunError.self) { try ending.end(runtime, .death(liveness)) }
        }
        #expect(isAlive(agent))
        #expect(try s.runtimes("LIVE").map(\.state) == [.running])
        #expect(try s.tmux(["has-session", "-t", "=LIVE@1"]).status == 0)
        #expect(try s.events("death", ticket: "LIVE").isEmpty)
        #expect(try s.ticketRow("LIVE")?.deaths == 0)
    }

    /// A relaunch refused by the kill switch stays owed: nothing runs while the switch is on,
    /// the refusal is recorded once, and the relaunch happens once the switch is off.
    @Test func aRetryRefusedByTheKillSwitchWaitsForItToGoOff() throws {
        let s = try Scratch(name: "retryks")
        defer { s.cleanup() }
        let serve = try ServeProcess(s, arguments: Self.fast)
        try serve.waitUntilReady()
        let agent = try s.startAgent("KS", ["sleep", "1000"])
        #expect(try s.mcrun(["killswitch", "on", "--reason", "incident"]).status == 0)
        kill(agent, SIGKILL)
        try waitUntil("the death recorded and the relaunch refused") {
            try s.runtimes("KS").first?.state == .dead && !s.events("retry_refused", ticket: "KS").isEmpty
        }
        try holdsFalse("a relaunch while the kill switch is on", for: 2.5, every: 0.1) { try s.runtimes("KS").count > 1 }
        let refusals = try s.events("retry_refused", ticket: "KS")
        #expect(refusals.count == 1, "one refusal event however many passes: \(refusals.count)")
        #expect(refusals.first?.reason == "killswitch")
        #expect(try s.context().ledger.pendingRetries().count == 1)
        #expect(try s.ticketRow("KS")?.escalated == false)

        #expect(try s.mcrun(["killswitch", "off"]).status == 0)
        try waitUntil("the relaunch after the kill switch went off") {
            let r = try s.runtimes("KS")
            return r.count == 2 && r[1].state == .running
        }
        try holdsFalse("a second relaunch", for: 1.5, every: 0.1) { try s.runtimes("KS").count > 2 }
        #expect(try s.events("retry", ticket: "KS").count == 1)
        #expect(try s.context().ledger.pendingRetries().count == 0)
    }

    /// Records `ticket`'s live runtime dead without touching its agent (what a wrong liveness
    /// reading would have done), counting `deaths` deaths under `policy`.
    /// Staged by hand: no command records a death of a live agent.
    static func recordWronglyDead(_ s: Scratch, ticket: String, deaths: Int, policy: DeathPolicy) throws {
        var dead = try #require(try s.runtimes(ticket).first)
        var standing = try #require(try s.ticketRow(ticket))
        let now = WallClock.now()
        dead.state = .dead
        dead.endedAt = now
        dead.updatedAt = now
        dead.endReason = "agent_exited"
        dead.endedBy = "test"
        dead.exitSignal = 9
        standing.deaths += deaths
        let escalates = standing.deaths > policy.maxSilentRetries
        if escalates {
            standing.escalated = true
            standing.escalatedAt = now
            standing.escalatedReason = "died \(standing.deaths) times without completing; last: episode \(dead.episode), killed by signal 9"
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let record = String(decoding: try encoder.encode(TerminalRecord.derive(dead, ticket: standing)), as: UTF8.self)
        try s.editLedger(
            """
            UPDATE runtimes SET state = 'dead', ended_at = \(now), updated_at = \(now), end_reason = 'agent_exited', ended_by = 'test',
                exit_signal = 9, teardown_owed = 1, terminal_record = \(sqlLiteral(record)) WHERE id = \(dead.id!);
            INSERT INTO events(at, kind, ticket, runtime_id, episode, from_state, to_state, actor, reason)
                VALUES (\(now), 'death', '\(ticket)', \(dead.id!), \(dead.episode), 'running', 'dead', 'test', 'agent_exited');
            UPDATE tickets SET deaths = \(standing.deaths), escalated = \(escalates ? 1 : 0), escalated_at = \(standing.escalatedAt.map { "\($0)" } ?? "NULL"),
                escalated_reason = \(sqlLiteral(standing.escalatedReason)), updated_at = \(now) WHERE id = '\(ticket)';
            """)
    }

    /// A runtime recorded dead whose agent lives is re-adopted: the death is taken back with
    /// the escalation it caused and the end record; under the kill switch it is left alone.
    @Test func healingTakesBackTheDeathItsEscalationAndEndRecordButWaitsForTheKillSwitch() throws {
        let s = try Scratch(name: "heal")
        defer { s.cleanup() }
        let policy = DeathPolicy(maxSilentRetries: 0)
        let once = try s.startAgent("ONCE", ["sleep", "1000"])
        let twice = try s.startAgent("TWICE", ["sleep", "1000"])
        try Self.recordWronglyDead(s, ticket: "ONCE", deaths: 1, policy: policy)
        try Self.recordWronglyDead(s, ticket: "TWICE", deaths: 2, policy: policy)
        #expect(try s.ticketRow("ONCE")?.escalated == true)
        #expect(try s.runtimes("ONCE").first?.terminalRecord != nil)
        #expect(try s.mcrun(["killswitch", "on", "--reason", "incident"]).status == 0)

        let serve = try ServeProcess(s, arguments: ["--max-silent-retries", "0", "--reconcile-interval", "200ms"])
        try serve.waitUntilReady()
        try holdsFalse("healing or killing an agent while the kill switch is on", for: 1.5, every: 0.1) {
            try !isAlive(once) || !isAlive(twice) || s.runtimes("ONCE").first?.state != .dead
                || s.runtimes("TWICE").first?.state != .dead || !s.events("healed").isEmpty
        }
        #expect(try s.tmux(["has-session", "-t", "=ONCE@1"]).status == 0)
        #expect(serve.log.components(separatedBy: "neither re-adopted nor killed").count - 1 == 2, "logged once per runtime:\n\(serve.log)")

        #expect(try s.mcrun(["killswitch", "off"]).status == 0)
        try waitUntil("both re-adopted") {
            try s.runtimes("ONCE").first?.state == .running && s.runtimes("TWICE").first?.state == .running
        }
        let healedOnce = try #require(try s.runtimes("ONCE").first)
        #expect(healedOnce.terminalRecord == nil)
        #expect(healedOnce.endedAt == nil && healedOnce.exitSignal == nil && healedOnce.pid == once)
        let ticketOnce = try #require(try s.ticketRow("ONCE"))
        #expect(ticketOnce.deaths == 0 && !ticketOnce.escalated && ticketOnce.escalatedReason == nil)
        // Still over the limit after the one death is taken back: the escalation stands.
        let ticketTwice = try #require(try s.ticketRow("TWICE"))
        #expect(ticketTwice.deaths == 1 && ticketTwice.escalated)
        #expect(try s.runtimes("TWICE").first?.terminalRecord == nil)
        #expect(try s.events("healed", ticket: "ONCE").first?.data.at("escalation_cleared")?.boolValue == true)
        #expect(try s.events("healed", ticket: "TWICE").first?.data.at("escalation_cleared")?.boolValue == false)

        // Watched again: its real death is noticed.
        kill(once, SIGKILL)
        try waitUntil("the re-adopted agent's death recorded") { try s.runtimes("ONCE").first?.state == .dead }
        #expect(try s.ticketRow("ONCE")?.deaths == 1)
    }

    /// A stopper within its grace is left alone; killed half-way, its stop is finished by serve.
    @Test func serveFinishesAStopWhoseStopperWasKilledAndOnlyThen() throws {
        let s = try Scratch(name: "stoptakeover")
        defer { s.cleanup() }
        let serve = try ServeProcess(s, arguments: ["--reconcile-interval", "200ms"])
        try serve.waitUntilReady()
        // SIG_IGN survives exec: the agent ignores SIGTERM, so the stopper waits out its grace.
        let agent = try s.startAgent("STUB", ["sh", "-c", "trap '' TERM; exec sleep 1000"])
        let stopper = try s.spawnMcrun(["stop", "STUB", "--grace", "60s"])
        s.onCleanup { kill(stopper.pid, SIGKILL) }
        try waitUntil("the stop to be under way") {
            let r = try s.runtimes("STUB").first
            return r?.state == .stopping && r?.stopperPID == stopper.pid
        }
        try holdsFalse("serve taking over a stop whose stopper is alive", for: 3, every: 0.1) {
            try !isAlive(agent) || s.runtimes("STUB").first?.state != .stopping
        }
        kill(stopper.pid, SIGKILL)
        _ = stopper.collect(stdin: nil, timeoutMilliseconds: 5_000)
        try waitUntil("serve to finish the stop", timeout: 10) {
            try !isAlive(agent) && s.runtimes("STUB").first?.state == .stopped
        }
        #expect(try s.runtimes("STUB").first?.endReason == "stop_resumed")
        #expect(try s.events("death", ticket: "STUB").isEmpty)
    }

    /// An agent without hooks never reports idle: serve delivers its queued message once the
    /// pane has been quiet for the busy window.
    @Test func serveDeliversAQueuedMessageWhenThePaneGoesQuiet() throws {
        let s = try Scratch(name: "drainer")
        defer { s.cleanup() }
        let serve = try ServeProcess(s, arguments: Self.fast)
        try serve.waitUntilReady()
        let recording = s.path("stdin.rec")
        let script = try s.script("agent.sh", "#!/bin/sh\necho ready\nexec cat > \"$1\"\n")
        _ = try s.startAgent("Q", [script, recording])
        let pane = try #require(try s.runtimes("Q").first?.paneID)
        try waitUntil("the agent to print its first line") {
            try s.tmux(["capture-pane", "-p", "-t", pane]).stdoutText.contains("ready")
        }
        let (queued, json) = try s.mcrunJSON(["send", "Q", "--queue", "hello from the queue"])
        #expect(queued.status == 0, "\(queued.stderrText)")
        #expect(json.at("code")?.intValue == 202)
        #expect(json.at("delivered")?.boolValue == false)
        try waitUntil("serve to deliver the queued message", timeout: 10) {
            (try? String(contentsOfFile: recording, encoding: .utf8))?.contains("hello from the queue") == true
        }
        #expect(try String(contentsOfFile: recording, encoding: .utf8) == "hello from the queue\n")
    }
}
