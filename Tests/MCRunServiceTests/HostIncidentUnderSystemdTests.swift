import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// mcrun-tmux.service as shipped, under a real systemd in a namespace: stopping the unit
/// records stops (its ExecStop=), serve never starts a tmux server of its own while the
/// unit is down, the unit starts again, and a crash of the server is one host incident
/// whose runtimes are relaunched once when systemd has restarted it.
@Suite(
    .serialized,
    .timeLimit(.minutes(5)),
    .needsSystemdNamespace)
struct HostIncidentUnderSystemdTests {
    static let units = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("units")
    static let stateDir = "/var/lib/mcrun"
    static let socket = "/var/lib/mcrun/tmux/sock"

    /// Each ticket's newest runtime as `ps --all --json` reports it.
    private func runtimes(_ ns: SystemdNamespace) async throws -> [String: JSONValue] {
        let (result, json) = try await ns.mcrun(["ps", "--all", "--state-dir", Self.stateDir, "--json"])
        let rows = try #require(json?.at("runtimes")?.arrayValue, "\(result)")
        var out: [String: JSONValue] = [:]
        for row in rows { if let ticket = row.at("ticket")?.stringValue { out[ticket] = row } }
        return out
    }

    private func eventKinds(_ ns: SystemdNamespace) async throws -> [String] {
        let (result, _) = try await ns.mcrun(["events", "--state-dir", Self.stateDir])
        return result.standardOutput.split(separator: "\n").compactMap {
            (try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)))?.at("kind")?.stringValue
        }
    }

    @Test func stoppingTheTmuxUnitRecordsStopsAndACrashIsOneIncidentRelaunchedOnce() async throws {
        try await SystemdNamespace.withBooted(overlaid: ["/etc"]) { ns in
            try await ns.createServiceUser()
            for name in ["mcrun.service", "mcrun-tmux.service"] {
                try await ns.install(unit: String(contentsOf: Self.units.appendingPathComponent(name), encoding: .utf8), name: name)
            }
            let mcrunBinary = try ns.mcrunBinary()
            try await ns.install(
                dropIn: "[Service]\nExecStart=\nExecStart=\(mcrunBinary) serve --reconcile-interval 1s\n", for: "mcrun.service", name: "test")
            // The shipped ExecStop= line, pointed at the binary under test.
            let shipped = try String(contentsOf: Self.units.appendingPathComponent("mcrun-tmux.service"), encoding: .utf8)
            let execStop = try #require(shipped.split(separator: "\n").first { $0.hasPrefix("ExecStop=") }, "the unit has no ExecStop=")
            try await ns.install(
                dropIn: "[Service]\nExecStop=\n\(execStop.replacingOccurrences(of: "/usr/local/bin/mcrun", with: mcrunBinary))\n",
                for: "mcrun-tmux.service", name: "test")
            try await ns.systemctl("start", "mcrun.service")
            try await ns.waitFor("mcrun.service", toHave: ["ActiveState": "active", "SubState": "running"])
            try await ns.waitFor("mcrun-tmux.service", toHave: ["ActiveState": "active", "SubState": "running"])

            for ticket in ["A", "B"] {
                let (result, json) = try await ns.mcrun(["start", "--state-dir", Self.stateDir, "--json", ticket, "--", "/bin/sleep", "600"])
                #expect(json?.at("runtime.pid")?.intValue != nil, "\(result)")
            }

            // Stopping the unit is an operator ending every agent: stops, not deaths.
            try await ns.systemctl("stop", "mcrun-tmux.service")
            try await ns.waitFor("mcrun-tmux.service", toHave: ["ActiveState": "inactive"])
            let stopped = try await runtimes(ns)
            for ticket in ["A", "B"] {
                let row = try #require(stopped[ticket])
                #expect(row.at("state")?.stringValue == "stopped", "\(ticket): \(row)")
                #expect(row.at("end_reason")?.stringValue == "tmux_unit_stopped", "\(ticket): \(row)")
                #expect(row.at("deaths")?.intValue == 0, "\(ticket): \(row)")
            }

            // serve waits for the unit and says so; it starts no server of its own.
            try await ns.waitFor("STATUS= to say serve waits for mcrun-tmux.service") {
                try await ns.show("mcrun.service", ["StatusText"])["StatusText"]?.contains("waiting") == true
            }
            for _ in 0..<3 {
                try await Task.sleep(for: .seconds(1))
                let probe = try await ns.run(["tmux", "-N", "-S", Self.socket, "list-sessions"])
                #expect(!probe.succeeded, "a tmux server runs while mcrun-tmux.service is stopped: \(probe)")
            }
            #expect(try await ns.journal("mcrun.service", format: "cat").contains("waiting for mcrun-tmux.service"))

            // The unit starts again: nothing took its socket.
            try await ns.systemctl("start", "mcrun-tmux.service")
            try await ns.waitFor("mcrun-tmux.service", toHave: ["ActiveState": "active", "SubState": "running"])

            // A crash of the server: one incident, C relaunched once when systemd restarted it.
            let (started, startJSON) = try await ns.mcrun(["start", "--state-dir", Self.stateDir, "--json", "C", "--", "/bin/sleep", "600"])
            #expect(startJSON?.at("runtime.pid")?.intValue != nil, "\(started)")
            let tmuxPID = try #require(try await ns.show("mcrun-tmux.service", ["MainPID"])["MainPID"])
            #expect(try await ns.run(["kill", "-KILL", tmuxPID]).succeeded)
            try await ns.waitFor("C relaunched in episode 2", timeout: .seconds(30)) {
                let c = try await runtimes(ns)["C"]
                return c?.at("episode")?.intValue == 2 && c?.at("state")?.stringValue == "running"
            }
            #expect(try await runtimes(ns)["C"]?.at("deaths")?.intValue == 0)
            let kinds = try await eventKinds(ns)
            #expect(!kinds.contains("death") && !kinds.contains("escalation"), "\(kinds)")
            #expect(kinds.filter { $0 == "host_incident" }.count == 1, "\(kinds)")
            #expect(kinds.filter { $0 == "stop" }.count == 2, "\(kinds)")
            let agent = try #require(try await runtimes(ns)["C"]?.at("pid")?.intValue)
            let cgroup = try String(contentsOfFile: ns.hostPath("/proc/\(agent)/cgroup"), encoding: .utf8)
            #expect(cgroup.contains("/system.slice/mcrun-tmux.service"), "the relaunched agent runs outside the tmux unit: \(cgroup)")
        }
    }
}
