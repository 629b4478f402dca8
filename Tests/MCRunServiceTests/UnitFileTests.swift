import Foundation
import MCRunTestSupport
import Testing

/// The shipped units under a real systemd. mcrun.service runs a stand-in for `mcrun serve`
/// (a drop-in replaces ExecStart) that reports readiness from its main process.
@Suite(
    .serialized,
    .timeLimit(.minutes(5)),
    .needsSystemdNamespace)
struct UnitFileTests {
    static let units = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("units")

    static let socket = "/var/lib/mcrun/tmux/sock"

    /// The main process itself sends READY=1 (NotifyAccess=main accepts nothing else, and as
    /// the unit's non-root user a helper such as systemd-notify cannot speak for it), then
    /// waits without ever sending WATCHDOG=1.
    static let standIn = """
        [Service]
        ExecStart=
        ExecStart=/usr/bin/python3 -c 'import os, signal, socket; a = os.environ["NOTIFY_SOCKET"]; a = chr(0) + a[1:] if a.startswith("@") else a; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(("READY=1" + chr(10) + "STATUS=stand-in ready").encode(), a); signal.pause()'
        """

    private func installShippedUnits(_ ns: SystemdNamespace) async throws {
        try await ns.createServiceUser()
        for name in ["mcrun.service", "mcrun-tmux.service"] {
            let text = try String(contentsOf: Self.units.appendingPathComponent(name), encoding: .utf8)
            try await ns.install(unit: text, name: name)
        }
        try await ns.install(dropIn: Self.standIn, for: "mcrun.service", name: "stand-in")
    }

    @Test func agentsSurviveARestartOfTheSupervisorAndEndWithTheTmuxUnit() async throws {
        try await SystemdNamespace.withBooted(overlaid: ["/etc"]) { ns in
            try await installShippedUnits(ns)

            // systemd accepted every line of both units: loading them logs nothing about them.
            for unit in ["mcrun.service", "mcrun-tmux.service"] {
                #expect(try await ns.show(unit, ["LoadState"])["LoadState"] == "loaded")
            }
            try await ns.run(["journalctl", "--sync"])
            let managerLog = try await ns.run(["journalctl", "--no-pager", "--output", "cat", "_PID=1"]).standardOutput
            let complaints = managerLog.split(separator: "\n").filter {
                $0.contains("/mcrun") && $0.contains(".service")
            }
            #expect(complaints.isEmpty, "systemd complained about the units:\n\(complaints.joined(separator: "\n"))")

            // Starting the supervisor brings up the tmux server first.
            try await ns.systemctl("start", "mcrun.service")
            try await ns.waitFor("mcrun.service", toHave: ["ActiveState": "active", "StatusText": "stand-in ready"])
            try await ns.waitFor("mcrun-tmux.service", toHave: ["ActiveState": "active", "SubState": "running"])
            let tmuxPID = try await ns.show("mcrun-tmux.service", ["MainPID"])["MainPID"]

            // The state directory and the socket's directory belong to the service user and are
            // readable by its group (the operators) only.
            for directory in ["/var/lib/mcrun", "/var/lib/mcrun/tmux"] {
                let attributes = try FileManager.default.attributesOfItem(atPath: ns.hostPath(directory))
                #expect((attributes[.posixPermissions] as? Int) == 0o750, "\(directory)")
                let owner = try await ns.run(["stat", "-c", "%U:%G", directory]).standardOutput
                #expect(owner == "mcrun:mcrun\n", "\(directory) owner")
            }
            try await ns.waitFor("the tmux socket") { FileManager.default.fileExists(atPath: ns.hostPath(Self.socket)) }

            // An agent: a pane of mcrun's tmux server, in that unit's cgroup. It ignores SIGHUP,
            // as leftovers often do, so only a signal to the whole cgroup ends it.
            let created = try await ns.run(
                [
                    "tmux", "-S", Self.socket, "new-session", "-d", "-s", "agent", "sh", "-c",
                    "trap '' HUP; exec sleep 600",
                ])
            #expect(created.succeeded, "\(created)")
            let panes = try await ns.run(["tmux", "-S", Self.socket, "list-panes", "-a", "-F", "#{pane_pid}"])
            let agent = try #require(panes.standardOutput.split(separator: "\n").first.map(String.init), "\(panes)")
            let cgroup = try await ns.run(["cat", "/proc/\(agent)/cgroup"]).standardOutput
            #expect(cgroup.contains("/system.slice/mcrun-tmux.service"), "agent cgroup: \(cgroup)")

            // Restarting the supervisor leaves the server and the agent alone.
            try await ns.systemctl("restart", "mcrun.service")
            try await ns.waitFor("mcrun.service", toHave: ["ActiveState": "active", "StatusText": "stand-in ready"])
            #expect(try await ns.show("mcrun-tmux.service", ["MainPID"])["MainPID"] == tmuxPID)
            #expect(try await ns.run(["kill", "-0", agent]).succeeded, "the agent died with the supervisor's restart")

            // Stopping the supervisor does too.
            try await ns.systemctl("stop", "mcrun.service")
            #expect(try await ns.run(["kill", "-0", agent]).succeeded, "the agent died when the supervisor stopped")

            // Stopping the tmux unit is the operator ending every agent.
            try await ns.systemctl("stop", "mcrun-tmux.service")
            try await ns.waitFor("the agent to end with mcrun-tmux.service") {
                try await !ns.run(["kill", "-0", agent]).succeeded
            }
        }
    }

    @Test func aSupervisorThatStopsPingingIsRestartedAndTheAgentsStay() async throws {
        try await SystemdNamespace.withBooted(overlaid: ["/etc"]) { ns in
            try await installShippedUnits(ns)
            // The stand-in never sends WATCHDOG=1: a stuck loop. A short interval keeps the test
            // fast; no core file from the SIGABRT (the host's core_pattern may write one to /).
            try await ns.install(
                dropIn: "[Service]\nWatchdogSec=1s\nLimitCORE=0\n", for: "mcrun.service", name: "watchdog")
            try await ns.systemctl("start", "mcrun.service")
            let tmuxPID = try await ns.show("mcrun-tmux.service", ["MainPID"])["MainPID"]

            try await ns.waitFor("a restart of mcrun.service by the watchdog") {
                try await Int(ns.show("mcrun.service", ["NRestarts"])["NRestarts"] ?? "") ?? 0 >= 1
            }
            #expect(try await ns.journal("mcrun.service", format: "cat").contains("Watchdog timeout"))
            #expect(
                try await ns.show("mcrun-tmux.service", ["MainPID", "ActiveState"]) == [
                    "MainPID": tmuxPID ?? "", "ActiveState": "active",
                ])
        }
    }
}
