import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// The host breaker: agents of several tickets dying right after they start are one host
/// incident, not a death and an escalation per ticket.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct BreakerTests {
    /// An agent that fails at once while `$BROKEN` exists (a provider's quota, say), and
    /// runs normally once the cause is fixed.
    /// The host starts broken: `$BROKEN` exists until a test removes it.
    static func agent(_ s: Scratch) throws -> String {
        _ = try s.write("broken", "")
        s.environment["BROKEN"] = s.path("broken")
        return try s.script(
            "agent.sh",
            """
            #!/bin/sh
            if [ -e "$BROKEN" ]; then echo "error: quota exceeded for this account"; exit 1; fi
            exec sleep 1000
            """)
    }

    static func launches(_ s: Scratch) throws -> Int { try s.events("launch").count }

    @Test func sixTicketsFailingAtStartOpenOneBreakerInsteadOfTwelveLaunchesAndSixEscalations() throws {
        let s = try Scratch(name: "breaker6")
        defer { s.cleanup() }
        let agent = try Self.agent(s)
        #expect(try s.mcrun(["config", "breaker-cooldown", "1h"]).status == 0)
        // One page for the host, not one per ticket: an `any` hook hears each notable event.
        try FileManager.default.createDirectory(atPath: s.path("hooks.d"), withIntermediateDirectories: true)
        _ = try s.script("hooks.d/any", "#!/bin/sh\ncat >> \"$0.seen\"\necho >> \"$0.seen\"\n")
        // A long retry delay: the launches counted are the starts, whatever the machine's pace.
        let serve = try ServeProcess(
            s, arguments: ["--reconcile-interval", "1s", "--retry-delay", "30s", "--hooks-dir", s.path("hooks.d")])
        try serve.waitUntilReady()

        var refused: [JSONValue] = []
        for i in 1...6 {
            let ticket = "Q\(i)"
            let (result, json) = try s.mcrunJSON(["start", ticket, "--", agent])
            if result.status == 0 {
                try waitUntil("\(ticket)'s agent to die") { try s.runtimes(ticket).last?.state.isEnded == true }
            } else {
                #expect(result.status == 5, "\(result.stderrText)")
                #expect(json.at("reason")?.stringValue == "breaker_open", "\(json)")
                refused.append(json)
            }
        }
        // Three launches (breaker-tickets' default), then every start held.
        #expect(try Self.launches(s) == 3)
        #expect(refused.count == 3)
        let evidence = try #require(refused.last?.at("detail.evidence")?.arrayValue)
        #expect(Set(evidence.compactMap { $0.at("ticket")?.stringValue }) == ["Q1", "Q2", "Q3"])
        try waitUntil("the last screens read into the evidence") {
            let (_, status) = try s.mcrunJSON(["breaker", "status"])
            let items = status.at("evidence")?.arrayValue ?? []
            return items.count == 3
                && items.allSatisfy {
                    $0.at("exit_code")?.intValue == 1
                        && ($0.at("last_lines")?.arrayValue ?? []).contains { $0.stringValue?.contains("quota exceeded") == true }
                }
        }
        #expect(refused.last?.at("message")?.stringValue?.contains("Q1") == true)

        // Relaunches owed for the first deaths are held too, through several passes.
        try holdsFalse("another launch while the breaker is open", for: 2.5) { try Self.launches(s) > 3 }
        #expect(try s.context().ledger.pendingRetries().allSatisfy { $0.heldReason == "breaker_open" })

        // One incident, escalated once; no ticket charged.
        let incidents = try s.events("host_incident")
        #expect(incidents.count == 1 && incidents.first?.data.objectValue?["escalated"] == .bool(true), "\(incidents)")
        #expect(try s.events("escalation").isEmpty)
        func paged() -> [String] {
            let seen = (try? String(contentsOfFile: s.path("hooks.d/any.seen"), encoding: .utf8)) ?? ""
            return seen.split(separator: "\n").compactMap { (try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)))?.at("kind")?.stringValue }
        }
        try waitUntil("the event hook to hear of the incident") { paged().contains("host_incident") }
        #expect(paged().filter { $0 == "host_incident" }.count == 1 && !paged().contains("escalation"), "\(paged())")
        for i in 1...6 {
            let row = try s.ticketRow("Q\(i)")
            #expect((row?.deaths ?? 0) == 0 && row?.escalated != true, "Q\(i): \(String(describing: row))")
        }
        let doctor = try s.mcrun(["doctor"])
        #expect(doctor.stdoutText.contains("FAIL  host breaker"), "\(doctor.stdoutText)")

        // The cause fixed, an operator closes it: held relaunches go, and survive.
        try FileManager.default.removeItem(atPath: s.path("broken"))
        let closed = try s.mcrun(["breaker", "close", "--reason", "quota raised"])
        #expect(closed.status == 0, "\(closed.stderrText)")
        try waitUntil("Q1 to Q3 relaunched and running") {
            try ["Q1", "Q2", "Q3"].allSatisfy { try s.context().ledger.liveRuntime(ticket: $0)?.state == .running }
        }
        #expect(try s.mcrun(["start", "Q4", "--", agent]).status == 0)
        #expect(try s.events("host_incident_closed").count == 1)
    }

    @Test func afterTheCooldownOneProbeLaunchDecides() throws {
        let s = try Scratch(name: "breakerprobe")
        defer { s.cleanup() }
        let agent = try Self.agent(s)
        for (key, value) in [("breaker-tickets", "2"), ("breaker-cooldown", "1s"), ("breaker-fast-death", "2s")] {
            #expect(try s.mcrun(["config", key, value]).status == 0)
        }
        let serve = try ServeProcess(s, arguments: ["--reconcile-interval", "1s", "--retry-delay", "300ms"])
        try serve.waitUntilReady()
        for ticket in ["R1", "R2"] {
            #expect(try s.mcrun(["start", ticket, "--", agent]).status == 0)
            try waitUntil("\(ticket)'s agent to die") { try s.runtimes(ticket).last?.state.isEnded == true }
        }
        #expect(try s.events("host_incident").count == 1)
        // A probe that dies fast keeps it open for another cool-down.
        try waitUntil("a probe that failed; log:\n\(serve.log)", timeout: 15) { try !s.events("breaker_probe_failed").isEmpty }
        #expect(try s.context().ledger.openIncidents().first?.kind == .breaker)
        // Fixed: the next probe outlives breaker-fast-death and closes it.
        try FileManager.default.removeItem(atPath: s.path("broken"))
        try waitUntil("the breaker closed by a probe that survived; log:\n\(serve.log)", timeout: 20) {
            try s.events("host_incident_closed").first?.reason == "probe_survived"
        }
        try waitUntil("both tickets running again") {
            try ["R1", "R2"].allSatisfy { try s.context().ledger.liveRuntime(ticket: $0)?.state == .running }
        }
        #expect(try s.events("host_incident").count == 1)
        #expect(try s.events("escalation").isEmpty)
        for ticket in ["R1", "R2"] { #expect(try s.ticketRow(ticket)?.deaths == 0) }
    }

    /// A probe that ended without failing fast (a signal, an exit 0, a death after the
    /// fast-death time) never leaves the breaker waiting for it: outliving the fast-death
    /// time closes it; a shorter life that failed nothing brings another probe after the
    /// cool-down.
    @Test func aProbeThatEndedWithoutFailingFastNeverWedgesTheBreaker() throws {
        let s = try Scratch(name: "breakerwedge")
        defer { s.cleanup() }
        #expect(try s.mcrun(["config", "breaker-fast-death", "10s"]).status == 0)
        for (ticket, lived) in [("W1", 30.0), ("W2", 1.0)] {
            #expect(try s.mcrun(["start", ticket, "--", "sleep", "600"]).status == 0)
            #expect(try s.mcrun(["stop", ticket, "--grace", "1s"]).status == 0)
            let id = try #require(try s.context().ledger.runtime(ticket: ticket, episode: nil)?.id)
            // The probe's end as a signal's, after `lived` seconds.
            try s.editLedger(
                """
                UPDATE runtimes SET state = 'dead', exit_code = NULL, exit_signal = 9, ended_at = started_at + \(lived) WHERE id = \(id);
                INSERT INTO host_incidents (kind, cause, started_at, tickets, runtimes, probe_runtime_id)
                VALUES ('breaker', 'staged', (SELECT started_at FROM runtimes WHERE id = \(id)) - 60, '["\(ticket)"]', 3, \(id));
                """)
            let closed = try s.context().ledger.settleBreakerProbe(actor: "test")
            let open = try s.context().ledger.openIncidents().first { $0.kind == .breaker }
            if lived > 10 {
                #expect(closed?.closeReason == "probe_survived", "a probe that outlived the fast-death time did not close the breaker")
                #expect(open == nil)
            } else {
                #expect(closed == nil)
                #expect(open?.probeRuntimeID == nil, "the breaker still waits for a probe that has ended")
                #expect((open?.nextProbeAt ?? 0) > WallClock.now(), "no next probe after the cool-down")
            }
        }
    }

    /// A fast death whose count a reset cleared is the ticket's past: when the breaker opens
    /// it is not taken back, so the ticket's later death (its own) stays counted.
    @Test func aResetTicketsEarlierFastDeathIsNotTakenBackFromItsLaterDeath() throws {
        let s = try Scratch(name: "breakerreset")
        defer { s.cleanup() }
        let agent = try Self.agent(s)
        #expect(try s.mcrun(["config", "breaker-cooldown", "1h"]).status == 0)
        let serve = try ServeProcess(s, arguments: ["--reconcile-interval", "1s", "--retry-delay", "30s"])
        try serve.waitUntilReady()
        func deaths(_ ticket: String) throws -> Int? { try s.context().ledger.ticket(id: ticket)?.deaths }

        #expect(try s.mcrun(["start", "A", "--", agent]).status == 0)
        try waitUntil("A's first agent to die fast") { try s.runtimes("A").last?.state.isEnded == true }
        #expect(try deaths("A") == 1)
        #expect(try s.mcrun(["reset", "A"]).status == 0)
        #expect(try deaths("A") == 0)
        // Its next agent runs, then is killed: a death of its own, counted.
        try FileManager.default.removeItem(atPath: s.path("broken"))
        let (started, json) = try s.mcrunJSON(["start", "A", "--", agent])
        #expect(started.status == 0, "\(started.stderrText)")
        _ = kill(Int32(try #require(json.at("runtime.pid")?.intValue)), SIGKILL)
        try waitUntil("A's second agent's death to be recorded") { try s.runtimes("A").last?.state.isEnded == true }
        #expect(try deaths("A") == 1)

        // Two more tickets fail fast: with A's first death, three in the window open the breaker.
        _ = try s.write("broken", "")
        for ticket in ["B", "C"] {
            #expect(try s.mcrun(["start", ticket, "--", agent]).status == 0)
            try waitUntil("\(ticket)'s agent to die") { try s.runtimes(ticket).last?.state.isEnded == true }
        }
        try waitUntil("the breaker to open") { try s.context().ledger.openIncidents().contains { $0.kind == .breaker } }
        #expect(try deaths("B") == 0 && deaths("C") == 0, "the host's deaths are not the tickets'")
        #expect(try deaths("A") == 1, "A's own later death must stay counted")
        #expect(try s.context().ledger.pendingRetry(ticket: "A")?.runtimeID == (try s.runtimes("A").last?.id), "A is owed a relaunch for its own death only")
    }
}
