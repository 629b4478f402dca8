import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// `mcrun serve` as the shipped unit runs it, under a real systemd in a namespace: readiness
/// and status as systemd sees them, the watchdog killing a frozen loop, and restarts that
/// leave the agents running and re-adopted.
@Suite(
    .serialized,
    .timeLimit(.minutes(5)),
    .needsSystemdNamespace)
struct ServeUnderSystemdTests {
    static let units = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("units")
    static let stateDir = "/var/lib/mcrun"

    /// The built binary, a short watchdog, quick restarts; no core file or Swift backtrace
    /// on the watchdog's SIGABRT, which would only slow the kill down.
    static func dropIn(binary: String) -> String {
        """
        [Service]
        ExecStart=
        ExecStart=\(binary) serve --reconcile-interval 1s
        WatchdogSec=2s
        RestartSec=200ms
        LimitCORE=0
        Environment=SWIFT_BACKTRACE=enable=no
        """
    }

    /// Each ticket's (episode, pid, deaths) as `mcrun ps` reports it inside the namespace.
    private func runtimes(_ ns: SystemdNamespace) async throws -> [String: [Int64]] {
        let (result, json) = try await ns.mcrun(["ps", "--state-dir", Self.stateDir, "--json"])
        let rows = try #require(json?.at("runtimes")?.arrayValue, "\(result)")
        var out: [String: [Int64]] = [:]
        for row in rows {
            guard let ticket = row.at("ticket")?.stringValue else { continue }
            out[ticket] = [row.at("episode")?.intValue ?? -1, row.at("pid")?.intValue ?? -1, row.at("deaths")?.intValue ?? -1]
        }
        return out
    }

    @Test func theUnitIsReadyWithStatusIsRestartedByTheWatchdogAndKeepsTheAgents() async throws {
        try await SystemdNamespace.withBooted(overlaid: ["/etc"]) { ns in
            try await ns.createServiceUser()
            for name in ["mcrun.service", "mcrun-tmux.service"] {
                try await ns.install(unit: String(contentsOf: Self.units.appendingPathComponent(name), encoding: .utf8), name: name)
            }
            try await ns.install(dropIn: Self.dropIn(binary: try ns.mcrunBinary()), for: "mcrun.service", name: "test")
            try await ns.systemctl("start", "mcrun.service")
            try await ns.waitFor("mcrun.service", toHave: ["ActiveState": "active", "SubState": "running"])
            let status = try await ns.show("mcrun.service", ["StatusText"])["StatusText"] ?? ""
            #expect(status.hasPrefix("0 live, 0 busy, 0 escalated; last pass") && status.hasSuffix("pidfd"), "\(status)")

            var agents: [String: Int64] = [:]
            for ticket in ["A", "B"] {
                let (result, json) = try await ns.mcrun(
                    ["start", "--state-dir", Self.stateDir, "--json", ticket, "--", "/bin/sleep", "600"])
                agents[ticket] = try #require(json?.at("runtime.pid")?.intValue, "\(result)")
            }
            try await ns.waitFor("STATUS= to count the agents") {
                try await ns.show("mcrun.service", ["StatusText"])["StatusText"]?.hasPrefix("2 live") == true
            }
            let expected = ["A": [1, agents["A"]!, 0], "B": [1, agents["B"]!, 0]]

            // A restart leaves the agents running; the new serve adopts them (same episode and
            // PID, no death recorded).
            let firstPID = try await ns.show("mcrun.service", ["MainPID"])["MainPID"]
            try await ns.systemctl("restart", "mcrun.service")
            try await ns.waitFor("mcrun.service", toHave: ["ActiveState": "active", "SubState": "running"])
            #expect(try await ns.show("mcrun.service", ["MainPID"])["MainPID"] != firstPID)
            for pid in agents.values { #expect(try await ns.run(["kill", "-0", String(pid)]).succeeded, "agent \(pid) died") }
            #expect(try await runtimes(ns) == expected)

            // A frozen supervision loop stops the pings: systemd kills and restarts it.
            let frozenPID = try #require(try await ns.show("mcrun.service", ["MainPID"])["MainPID"])
            #expect(try await ns.run(["kill", "-STOP", frozenPID]).succeeded)
            try await ns.waitFor("the watchdog to restart mcrun.service", timeout: .seconds(30)) {
                let state = try await ns.show("mcrun.service", ["NRestarts", "MainPID", "ActiveState", "SubState"])
                return (Int(state["NRestarts"] ?? "") ?? 0) >= 1 && state["MainPID"] != frozenPID && state["MainPID"] != "0"
                    && state["SubState"] == "running"
            }
            #expect(try await ns.journal("mcrun.service", format: "cat").contains("Watchdog timeout"))
            try await ns.waitFor("STATUS= after the restart") {
                try await ns.show("mcrun.service", ["StatusText"])["StatusText"]?.hasPrefix("2 live") == true
            }
            for pid in agents.values { #expect(try await ns.run(["kill", "-0", String(pid)]).succeeded, "agent \(pid) died") }
            #expect(try await runtimes(ns) == expected)

            // And the supervisor still notices deaths: one retry for A.
            #expect(try await ns.run(["kill", "-KILL", String(agents["A"]!)]).succeeded)
            try await ns.waitFor("A relaunched in episode 2") {
                try await runtimes(ns)["A"]?.first == 2
            }
            #expect(try await runtimes(ns)["A"]?.last == 1)
        }
    }

    /// The documented deadline, measured: with W = WatchdogSec, systemd kills serve within
    /// 1.5 × W of its loop freezing, and of an agent's death it cannot record because another
    /// process holds the ledger's write lock (units/mcrun.service and docs/systemd.md).
    @Test func theWatchdogKillsWithinTheDocumentedDeadlineForAFrozenLoopAndAnUnrecordableDeath() async throws {
        let watchdog = 4.0
        let deadline = 1.5 * watchdog
        // Polling systemctl from outside the namespace, and the restart after the kill.
        let slack = 1.5
        try await SystemdNamespace.withBooted(overlaid: ["/etc"]) { ns in
            try await ns.createServiceUser()
            for name in ["mcrun.service", "mcrun-tmux.service"] {
                try await ns.install(unit: String(contentsOf: Self.units.appendingPathComponent(name), encoding: .utf8), name: name)
            }
            let dropIn =
                Self.dropIn(binary: try ns.mcrunBinary())
                .replacingOccurrences(of: "WatchdogSec=2s", with: "WatchdogSec=\(Int(watchdog))s")
                + "\nEnvironment=MCRUN_BUSY_TIMEOUT=1\n"
            try await ns.install(dropIn: dropIn, for: "mcrun.service", name: "test")
            try await ns.systemctl("start", "mcrun.service")
            try await ns.waitFor("mcrun.service", toHave: ["ActiveState": "active", "SubState": "running"])
            let (started, json) = try await ns.mcrun(["start", "--state-dir", Self.stateDir, "--json", "A", "--", "/bin/sleep", "600"])
            let agent = try #require(json?.at("runtime.pid")?.intValue, "\(started)")

            func restarts() async throws -> Int { Int(try await ns.show("mcrun.service", ["NRestarts"])["NRestarts"] ?? "") ?? 0 }
            func awaitRestart(after count: Int, since began: Instant, _ what: String) async throws {
                do {
                    try await ns.waitFor("the watchdog to kill mcrun.service (\(what))", timeout: .seconds(Int64(deadline + 20))) {
                        try await restarts() > count
                    }
                } catch {
                    let status = try await ns.show("mcrun.service", ["StatusText"])["StatusText"] ?? ""
                    let journal = try await ns.journal("mcrun.service", format: "short-monotonic")
                    Issue.record("STATUS=\(status)\njournal:\n\(journal.suffix(4000))")
                    throw error
                }
                let took = (Instant.now - began).seconds
                #expect(took <= deadline + slack, "\(what): killed \(took) s after, documented deadline \(deadline) s")
            }

            // A frozen loop.
            let frozenPID = try #require(try await ns.show("mcrun.service", ["MainPID"])["MainPID"])
            var before = try await restarts()
            var began = Instant.now
            #expect(try await ns.run(["kill", "-STOP", frozenPID]).succeeded)
            try await awaitRestart(after: before, since: began, "frozen loop")
            try await ns.waitFor("STATUS= after the restart", timeout: .seconds(20)) {
                try await ns.show("mcrun.service", ["StatusText"])["StatusText"]?.hasPrefix("1 live") == true
            }

            // A death that cannot be recorded: another process holds the ledger's write lock.
            // Held by a process inside the namespace, as the service's user.
            let ledger = Self.stateDir + "/ledger.sqlite"
            let hold = try await ns.run([
                "systemd-run", "--unit=ledger-holder", "--property=User=mcrun", "/bin/sh", "-c",
                "sleep 600 | sqlite3 -cmd '.timeout 5000' -cmd 'BEGIN IMMEDIATE' -cmd \"INSERT INTO settings VALUES ('held-by-test','1',0)\" \(ledger)",
            ])
            #expect(hold.succeeded, "\(hold)")
            try await ns.waitFor("sqlite3 to hold the ledger's write lock") {
                let probe = try await ns.run(["sqlite3", "-cmd", ".timeout 0", ledger, "BEGIN IMMEDIATE; ROLLBACK;"])
                return !probe.succeeded && probe.description.contains("locked")
            }
            before = try await restarts()
            began = Instant.now
            #expect(try await ns.run(["kill", "-KILL", String(agent)]).succeeded)
            try await awaitRestart(after: before, since: began, "a death the ledger refuses")
            #expect(try await ns.journal("mcrun.service", format: "cat").contains("cannot record a death"))

            #expect(try await ns.systemctl("stop", "ledger-holder.service").succeeded)
            try await ns.waitFor("the death recorded once the lock is gone", timeout: .seconds(30)) {
                try await runtimes(ns)["A"]?.last == 1
            }
            try await ns.waitFor("mcrun.service", toHave: ["ActiveState": "active", "SubState": "running"], timeout: .seconds(20))
        }
    }
}
