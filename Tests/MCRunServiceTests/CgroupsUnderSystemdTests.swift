import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// The cgroup per runtime under a real systemd, with the shipped units as installed:
/// mcrun-tmux.service delegates its subtree, the tmux server sits in its `server` leaf, each
/// agent in `runtime-TICKET-EPISODE` beside it, and stop, a death's teardown by the service,
/// a restart of mcrun.service and a relaunch keep that layout exact.
@Suite(.serialized, .timeLimit(.minutes(5)), .needsSystemdNamespace)
struct CgroupsUnderSystemdTests {
    static let mcrun = "/usr/local/bin/mcrun"
    static let unit = "/sys/fs/cgroup/system.slice/mcrun-tmux.service"

    private func mcrun(_ ns: SystemdNamespace, _ arguments: [String]) async throws -> (CommandResult, JSONValue?) {
        let result = try await ns.run(["runuser", "-u", "mcrun", "--", "env", "-C", "/", "HOME=/home/mcrun", Self.mcrun] + arguments)
        return (result, try? JSONDecoder().decode(JSONValue.self, from: Data(result.standardOutput.utf8)))
    }

    private func alive(_ ns: SystemdNamespace, _ pid: String) async throws -> Bool {
        let stat = try await ns.run(["cat", "/proc/\(pid)/stat"])
        guard stat.succeeded, let close = stat.standardOutput.lastIndex(of: ")") else { return false }
        let state = stat.standardOutput[stat.standardOutput.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    private func exists(_ ns: SystemdNamespace, _ path: String) async throws -> Bool {
        try await ns.run(["test", "-e", path]).succeeded
    }

    private func pids(_ ns: SystemdNamespace, _ names: [String]) async throws -> [String] {
        var found: [String] = []
        try await ns.waitFor("the agent's processes to write \(names)") {
            found = names.compactMap { name in
                (try? String(contentsOfFile: ns.hostPath("/home/mcrun/\(name)"), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            }.filter { !$0.isEmpty }
            return found.count == names.count
        }
        return found
    }

    /// The tmux server's cgroup2 line (`0::PATH`).
    private func serverCgroup(_ ns: SystemdNamespace) async throws -> String {
        let pid = try #require(try await ns.show("mcrun-tmux.service", ["MainPID"])["MainPID"])
        let lines = try await ns.run(["cat", "/proc/\(pid)/cgroup"]).standardOutput.split(separator: "\n")
        return lines.first { $0.hasPrefix("0::") }.map(String.init) ?? "(no cgroup2 line)"
    }

    @Test func escapeesAreStoppedAndRestartsAndRelaunchesKeepTheCgroupsExact() async throws {
        try await SystemdNamespace.withBooted(overlaid: SystemdNamespace.installOverlays) { ns in
            let package = try ns.stagePackage()
            let install = try await ns.run(["bash", package + "/scripts/install.sh", "--binaries", package + "/bin"], timeout: .seconds(60))
            try #require(install.succeeded, "\(install)")
            try await ns.systemctl("start", "mcrun.service")
            try await ns.waitFor("mcrun.service", toHave: ["ActiveState": "active", "SubState": "running"])
            #expect(try await ns.show("mcrun-tmux.service", ["Delegate"])["Delegate"] == "yes")

            // A setsid grandchild with an empty environment, a double-forked daemon, and a
            // process that ignores SIGTERM and SIGHUP.
            let escaper = """
                setsid env -i /bin/sh -c 'echo $$ > /home/mcrun/setsid.pid; exec sleep 3003' &
                /bin/sh -c '/bin/sh -c "echo \\$\\$ > /home/mcrun/daemon.pid; exec sleep 3004" & exit 0' &
                /bin/sh -c 'trap "" TERM HUP; echo $$ > /home/mcrun/stubborn.pid; while :; do sleep 1; done' &
                exec sleep 3000
                """
            let (started, json) = try await mcrun(ns, ["start", "C", "--json", "--cwd", "/home/mcrun", "--", "/bin/sh", "-c", escaper])
            let cgroup = try #require(json?.at("runtime.cgroup")?.stringValue, "no cgroup recorded: \(started)")
            #expect(cgroup == Self.unit + "/runtime-C-1")
            let server = try await serverCgroup(ns)
            #expect(server == "0::/system.slice/mcrun-tmux.service/server", "the tmux server is not in its leaf")
            // Nothing stays in the unit's own cgroup (the first pane's pane-log hook went to
            // the leaf with the server): cgroup v2 enables no controller below a group that
            // holds a process, so the runtimes' limits depend on it.
            let inUnit = try await ns.run(["cat", Self.unit + "/cgroup.procs"]).standardOutput
            #expect(inUnit.isEmpty, "processes left in \(Self.unit): \(inUnit)")
            let escapees = try await pids(ns, ["setsid.pid", "daemon.pid", "stubborn.pid"])
            let members = try await ns.run(["cat", cgroup + "/cgroup.procs"]).standardOutput.split(separator: "\n").map(String.init)
            for pid in escapees { #expect(members.contains(pid), "\(pid) is not in \(cgroup): \(members)") }

            // The namespace's cgroup2 tree may lack the memory controller (a hybrid host keeps
            // it in cgroup v1, which the namespace does not mount): then a limit is recorded
            // as not enforced, never silently claimed.
            let controllers = try await ns.run(["cat", Self.unit + "/cgroup.controllers"]).standardOutput
            print("cgroup controllers delegated to mcrun-tmux.service in the namespace: \(controllers.isEmpty ? "none" : controllers)")

            // A restart of the supervisor changes nothing in the agents' cgroups.
            try await ns.systemctl("restart", "mcrun.service")
            try await ns.waitFor("mcrun.service", toHave: ["ActiveState": "active", "SubState": "running"])
            try await ns.waitFor("the service to count the agent again") {
                try await ns.show("mcrun.service", ["StatusText"])["StatusText"]?.hasPrefix("1 live") == true
            }
            let after = try await ns.run(["cat", cgroup + "/cgroup.procs"]).standardOutput.split(separator: "\n").map(String.init)
            #expect(Set(after) == Set(members), "the restart changed the runtime's cgroup")
            let serverAfter = try await serverCgroup(ns)
            #expect(serverAfter == "0::/system.slice/mcrun-tmux.service/server")

            let (stopped, _) = try await mcrun(ns, ["stop", "C", "--grace", "500ms", "--json"])
            #expect(stopped.succeeded, "\(stopped)")
            for pid in escapees { #expect(try await !alive(ns, pid), "\(pid) survived the stop") }
            #expect(try await !exists(ns, cgroup), "\(cgroup) was not removed")

            // A death the service tears down, then its silent relaunch in a cgroup of its own.
            let diesOnce = """
                if [ ! -e /home/mcrun/D.once ]; then
                  touch /home/mcrun/D.once
                  setsid env -i /bin/sh -c 'echo $$ > /home/mcrun/orphan.pid; exec sleep 3011' &
                  while [ ! -s /home/mcrun/orphan.pid ]; do :; done
                  exit 3
                fi
                exec sleep 600
                """
            let (startedD, _) = try await mcrun(
                ns, ["start", "D", "--json", "--cwd", "/home/mcrun", "--pids-max", "64", "--memory-max", "256M", "--", "/bin/sh", "-c", diesOnce])
            #expect(startedD.succeeded, "\(startedD)")
            let orphan = try await pids(ns, ["orphan.pid"])[0]
            var relaunched: JSONValue?
            try await ns.waitFor("the service to relaunch D", timeout: .seconds(20)) {
                let (_, ps) = try await mcrun(ns, ["ps", "--json"])
                relaunched = ps?.at("runtimes")?.arrayValue?.first { $0.at("ticket")?.stringValue == "D" }
                return relaunched?.at("episode")?.intValue == 2 && relaunched?.at("state")?.stringValue == "running"
            }
            #expect(try await !alive(ns, orphan), "the orphan of the first episode survived its death")
            #expect(try await !exists(ns, Self.unit + "/runtime-D-1"), "the dead episode's cgroup was not removed")
            #expect(relaunched?.at("cgroup")?.stringValue == Self.unit + "/runtime-D-2")
            #expect(relaunched?.at("limits.pids_max.value")?.intValue == 64, "the relaunch lost its limits: \(String(describing: relaunched))")
            #expect(relaunched?.at("limits.memory_max.value")?.intValue == 256 << 20)
            let memoryEnforced = controllers.contains("memory")
            #expect(relaunched?.at("limits.memory_max.enforced_by")?.stringValue == (memoryEnforced ? "cgroup2" : "none"))
            if !memoryEnforced {
                // Said, not claimed: show names the limits the namespace cannot enforce.
                let show = try await mcrun(ns, ["show", "D"]).0.standardOutput
                #expect(show.contains("not enforced: memory"), "\(show)")
            }
            let pidsEnforced = controllers.contains("pids")
            #expect(relaunched?.at("limits.pids_max.enforced_by")?.stringValue == (pidsEnforced ? "cgroup2" : "none"))
            if pidsEnforced {
                #expect(try await ns.run(["cat", Self.unit + "/runtime-D-2/pids.max"]).standardOutput.hasPrefix("64"))
            }
            // The subtree holds exactly the server's leaf and the live runtime.
            let children = try await ns.run(["find", Self.unit, "-mindepth", "1", "-maxdepth", "1", "-type", "d", "-printf", "%f\n"])
            #expect(Set(children.standardOutput.split(separator: "\n").map(String.init)) == ["server", "runtime-D-2"], "\(children)")
        }
    }
}
