import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// mcrun's tmux server lost with agents in it: one host incident, no ticket's death, one
/// relaunch each once the server is back (serve outside systemd starts it again itself).
@Suite(.serialized, .timeLimit(.minutes(1)))
struct HostIncidentTests {
    static let tickets = ["H1", "H2", "H3", "H4"]

    static func runningEpisodes(_ s: Scratch) throws -> [String: Int] {
        var out: [String: Int] = [:]
        for ticket in tickets {
            if let r = try s.context().ledger.liveRuntime(ticket: ticket), r.state == .running { out[ticket] = r.episode }
        }
        return out
    }

    @Test func killingTheTmuxServerIsOneHostIncidentNotADeathAndEachRuntimeIsRelaunchedOnce() throws {
        let s = try Scratch(name: "tmuxlost")
        defer { s.cleanup() }
        let serve = try ServeProcess(s, arguments: ["--reconcile-interval", "1s", "--retry-delay", "300ms"])
        try serve.waitUntilReady()
        for ticket in Self.tickets { _ = try s.startAgent(ticket, ["sleep", "1000"]) }

        for loss in 1...2 {
            #expect(try s.tmux(["kill-server"]).status == 0)
            try waitUntil("each runtime relaunched after loss \(loss); serve log:\n\(serve.log)", timeout: 20) {
                try Self.runningEpisodes(s) == Dictionary(uniqueKeysWithValues: Self.tickets.map { ($0, loss + 1) })
            }
            let incidents = try s.events("host_incident")
            #expect(incidents.count == loss, "\(incidents)")
            #expect(incidents.allSatisfy { $0.data.objectValue?["kind"]?.stringValue == "tmux_lost" })
            try waitUntil("the incident closed once the server was back") { try s.events("host_incident_closed").count == loss }
        }
        // Nothing was counted against a ticket, nothing escalated: the loss was the host's.
        #expect(try s.events("death").isEmpty)
        #expect(try s.events("escalation").isEmpty)
        for ticket in Self.tickets {
            let row = try #require(try s.ticketRow(ticket))
            #expect(row.deaths == 0 && !row.escalated, "\(ticket): \(row)")
            let episodes = try s.runtimes(ticket)
            #expect(episodes.count == 3, "\(ticket): one relaunch per loss")
            for lost in episodes.prefix(2) { #expect(lost.state == .dead && lost.endReason == "tmux_server_lost") }
        }
        let retries = try s.events("retry")
        #expect(retries.count == 2 * Self.tickets.count && retries.allSatisfy { $0.reason == "host_incident" }, "\(retries)")
        #expect(try s.events("host_lost").count == 2 * Self.tickets.count)
        #expect(try s.context().ledger.openIncidents().isEmpty)
    }

    /// The other side of telling them apart: one session closed while the server runs is
    /// that agent's death, counted and relaunched as always.
    /// A relaunch held for the tmux server with no incident open (refused `tmux_down` while
    /// the unit was down, no agent lost with it) goes once the server answers.
    @Test func aRelaunchHeldForTheServerGoesWhenItAnswersEvenWithoutAnIncident() throws {
        let s = try Scratch(name: "tmuxheld")
        defer { s.cleanup() }
        #expect(try s.mcrun(["start", "H1", "--", "sleep", "600"]).status == 0)
        #expect(try s.mcrun(["stop", "H1", "--grace", "1s"]).status == 0)
        let id = try #require(try s.context().ledger.runtime(ticket: "H1", episode: nil)?.id)
        try s.editLedger(
            """
            INSERT INTO pending_retries (ticket, runtime_id, due_at, created_at, held_reason, held_since)
            VALUES ('H1', \(id), strftime('%s', 'now'), strftime('%s', 'now'), 'tmux_down', strftime('%s', 'now'));
            """)
        #expect(try s.context().ledger.openIncidents().isEmpty)
        #expect(try s.context().ledger.pendingRetry(ticket: "H1")?.heldReason == "tmux_down")
        #expect(try s.context().ledger.tmuxServerBack(actor: "test") == nil, "no incident was open")
        #expect(try s.context().ledger.pendingRetry(ticket: "H1")?.heldReason == nil, "the relaunch is still held for a server that answers")
    }

    @Test func aSessionClosedWhileTheServerRunsIsStillTheTicketsDeath() throws {
        let s = try Scratch(name: "onesession")
        defer { s.cleanup() }
        let serve = try ServeProcess(s, arguments: ["--reconcile-interval", "1s", "--retry-delay", "300ms"])
        try serve.waitUntilReady()
        _ = try s.startAgent("K1", ["sleep", "1000"])
        _ = try s.startAgent("K2", ["sleep", "1000"])
        #expect(try s.tmux(["kill-session", "-t", "=K1@1"]).status == 0)
        try waitUntil("K1's death recorded and relaunched") { try s.runtimes("K1").last?.episode == 2 && s.runtimes("K1").last?.state == .running }
        #expect(try s.ticketRow("K1")?.deaths == 1)
        #expect(try s.events("host_incident").isEmpty)
        #expect(try s.runtimes("K2").count == 1 && s.runtimes("K2").first?.state == .running)
    }

    /// `ps` says so while the incident is open, and `--json` carries it.
    @Test func psShowsAnOpenIncidentAndStopAllRecordsStops() throws {
        let s = try Scratch(name: "psincident")
        defer { s.cleanup() }
        _ = try s.startAgent("P1", ["sleep", "1000"])
        _ = try s.startAgent("P2", ["sleep", "1000"])
        // No serve: the next command that touches a runtime records the loss.
        #expect(try s.tmux(["kill-server"]).status == 0)
        try waitUntil("the agents gone") { try s.runtimes("P1").first?.identity?.liveness() != .alive }
        let stopped = try s.mcrun(["stop", "P1"])
        #expect(stopped.status == 0, "\(stopped.stderrText)")
        #expect(try s.runtimes("P1").first?.endReason == "tmux_server_lost")
        #expect(try s.ticketRow("P1")?.deaths == 0)
        let ps = try s.mcrun(["ps"])
        #expect(ps.stdoutText.hasPrefix("HOST: host incident: mcrun's tmux server lost"), "\(ps.stdoutText)")
        let (_, json) = try s.mcrunJSON(["ps"])
        #expect(json.at("host_incidents")?.arrayValue?.first?.at("kind")?.stringValue == "tmux_lost")
        let metrics = try s.mcrun(["metrics"]).stdoutText
        #expect(metrics.contains("mcrun_host_incident_open{kind=\"tmux_lost\"} 1"), "\(metrics)")

        // stop --all: every live runtime stopped and recorded as a stop.
        _ = try s.startAgent("P3", ["sleep", "1000"])
        _ = try s.startAgent("P4", ["sleep", "1000"])
        let all = try s.mcrun(["stop", "--all", "--reason", "maintenance", "--grace", "2s"])
        #expect(all.status == 0, "\(all.stderrText)")
        for ticket in ["P3", "P4"] {
            let r = try #require(try s.runtimes(ticket).last)
            #expect(r.state == .stopped && r.endReason == "maintenance", "\(ticket): \(r.state) \(r.endReason ?? "-")")
        }
        // As a unit's ExecStop= after a crash ($EXIT_CODE set) it stops nothing.
        _ = try s.startAgent("P5", ["sleep", "1000"])
        s.environment["EXIT_CODE"] = "killed"
        let skipped = try s.mcrun(["stop", "--all", "--exec-stop"])
        s.environment["EXIT_CODE"] = nil
        #expect(skipped.status == 0 && skipped.stdoutText.contains("nothing stopped"), "\(skipped.stdoutText)")
        #expect(try s.runtimes("P5").last?.state == .running)
        #expect(try s.mcrun(["stop", "--all", "P5"]).status == 2)
    }
}

/// Relaunches that fail for a cause outside the agent (here tmux refusing new sessions) are
/// the host's: owed again with a growing delay, one incident, never an escalation.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct LaunchFailureIncidentTests {
    @Test func relaunchesFailingOutsideTheAgentAreOneIncidentAndNeverEscalate() throws {
        let s = try Scratch(name: "launchfail")
        defer { s.cleanup() }
        let wrapper = try s.script(
            "tmux-wrapper",
            """
            #!/bin/sh
            if [ -e "$FAIL_NEW_SESSION" ]; then
              for a in "$@"; do [ "$a" = new-session ] && { echo "server refused the session" >&2; exit 1; }; done
            fi
            exec tmux "$@"
            """)
        let flag = s.path("fail-new-session")
        let serve = try ServeProcess(
            s, arguments: ["--reconcile-interval", "1s", "--retry-delay", "200ms"], environment: ["MCRUN_TMUX": wrapper, "FAIL_NEW_SESSION": flag])
        try serve.waitUntilReady()
        let agent = try s.startAgent("L1", ["sleep", "1000"])
        _ = try s.write("fail-new-session", "")
        kill(agent, SIGKILL)
        try waitUntil("five relaunches that did not start; log:\n\(serve.log)", timeout: 20) {
            try s.runtimes("L1").filter { $0.state == .launchFailed }.count >= 5
        }
        let row = try #require(try s.ticketRow("L1"))
        #expect(!row.escalated && row.deaths == 1, "\(row)")
        let incidents = try s.events("host_incident")
        #expect(incidents.count == 1 && incidents.first?.data.objectValue?["kind"]?.stringValue == "launch_failed", "\(incidents)")
        #expect(try s.mcrun(["ps"]).stdoutText.contains("HOST: host incident"))

        try FileManager.default.removeItem(atPath: flag)
        try waitUntil("L1 running again", timeout: 20) { try s.context().ledger.liveRuntime(ticket: "L1")?.state == .running }
        try waitUntil("the incident closed") { try s.events("host_incident_closed").count == 1 }
        #expect(try s.events("escalation").isEmpty)
        #expect(try s.context().ledger.openIncidents().isEmpty)
    }
}

/// A relaunch whose agent's identity the ledger would not take (held by another process past
/// the busy timeout) failed for the host: owed again, no escalation.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct ShimLedgerUnwritableTests {
    @Test func aShimTheLedgerRefusedIsAHostFailureAndTheRelaunchIsOwedAgain() throws {
        let s = try Scratch(name: "shimledger")
        defer { s.cleanup() }
        // The shim waits at a gate while `hold` exists, so the test can take the lock
        // between the relaunch's admission and the write of the agent's identity.
        let shim = try s.script(
            "shim-gate",
            """
            #!/bin/sh
            if [ -e "$GATE.hold" ]; then : > "$GATE.reached"; while [ ! -e "$GATE.go" ]; do sleep 0.02; done; fi
            exec "$REAL_SHIM" "$@"
            """)
        let gate = s.path("gate")
        let serve = try ServeProcess(
            s, arguments: ["--reconcile-interval", "1s", "--retry-delay", "300ms"],
            environment: [
                "MCRUN_SHIM_BIN": shim, "GATE": gate, "REAL_SHIM": Scratch.binDirectory + "/mcrun-shim", "MCRUN_BUSY_TIMEOUT": "1",
            ])
        try serve.waitUntilReady()
        let agent = try s.startAgent("U1", ["sleep", "1000"])
        _ = try s.write("gate.hold", "")
        kill(agent, SIGKILL)
        try waitUntil("the relaunch admitted and its shim at the gate") {
            try s.runtimes("U1").last.map { $0.episode == 2 && $0.state == .launching } ?? false
                && FileManager.default.fileExists(atPath: gate + ".reached")
        }
        let lock = try s.holdLedgerLock()
        _ = try s.write("gate.go", "")
        try waitUntil(
            "the refused shim to exit; panes: \((try? s.tmux(["list-panes", "-a", "-F", "#{session_name} #{pane_dead} #{pane_dead_status}"]).stdoutText) ?? "?"); log:\n\(serve.log)"
        ) {
            try s.tmux(["list-panes", "-t", "=U1@2", "-F", "#{pane_dead}"]).stdoutText.hasPrefix("1")
        }
        try FileManager.default.removeItem(atPath: s.path("gate.hold"))
        lock.release()
        try waitUntil("U1 running again in a later episode; log:\n\(serve.log)", timeout: 20) {
            try s.context().ledger.liveRuntime(ticket: "U1").map { $0.state == .running && $0.episode >= 3 } ?? false
        }
        let failed = try #require(try s.runtimes("U1").first { $0.episode == 2 })
        #expect(failed.state == .launchFailed && failed.endReason == "ledger_unwritable", "\(failed.state) \(failed.endReason ?? "-")")
        let row = try #require(try s.ticketRow("U1"))
        #expect(!row.escalated && row.deaths == 1, "\(row)")
        #expect(try s.events("escalation").isEmpty)
    }
}
