import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

extension SystemdNamespace {
    /// The host directories an install writes to, overlaid so that it changes the namespace only.
    static let installOverlays = ["/etc", "/usr/local", "/home"]

    /// Where `stagePackage` puts the package inside the namespace.
    static let stagedPackage = "/run/mcrun-package"

    /// The package's install inputs and the binaries under test (in `bin/`), copied into the
    /// namespace's /run, so a checkout under a directory that is private inside (/tmp, /var)
    /// is installed the same way. Returns the copy's path as seen inside.
    @discardableResult
    func stagePackage() throws -> String {
        let target = hostPath(Self.stagedPackage)
        let files = FileManager.default
        guard !files.fileExists(atPath: target) else { return Self.stagedPackage }
        try files.createDirectory(atPath: target + "/bin", withIntermediateDirectories: true)
        for item in ["scripts", "hooks", "units", "dist", "share"] where files.fileExists(atPath: Scratch.packageRoot + "/" + item) {
            try files.copyItem(atPath: Scratch.packageRoot + "/" + item, toPath: target + "/" + item)
        }
        for name in ["mcrun", "mcrun-pane-log", "mcrun-shim"] {
            try files.copyItem(atPath: Scratch.binDirectory + "/" + name, toPath: target + "/bin/" + name)
        }
        return Self.stagedPackage
    }

    /// Creates the `mcrun` user and group from the shipped sysusers.d entry, inside the
    /// namespace (its `/etc` must be overlaid).
    func createServiceUser() async throws {
        let created = try await run(["systemd-sysusers", try stagePackage() + "/dist/sysusers.conf"])
        guard created.succeeded else { throw HarnessError("\(created)") }
    }
}

/// The one install path under a real systemd: scripts/install.sh into the namespace's
/// (overlaid) /usr/local and /etc, the mcrun user from its sysusers.d entry, both units
/// started as that user with the shipped hardening, an agent started by that user, and an
/// operator in group mcrun reading everything and watching the agent read-only, but unable
/// to change anything.
@Suite(
    .serialized,
    .timeLimit(.minutes(5)),
    .needsSystemdNamespace)
struct InstallUnderSystemdTests {
    static let socket = "/var/lib/mcrun/tmux/sock"
    static let mcrun = "/usr/local/bin/mcrun"
    static let operatorName = "mcrun-op"

    /// `mcrun ARGS --json` run inside as `user`, with a login-like environment and no
    /// MCRUN_STATE_DIR: the state directory comes from /etc/mcrun/mcrun.conf.
    private func mcrun(_ ns: SystemdNamespace, as user: String, _ arguments: [String]) async throws -> (CommandResult, JSONValue?) {
        let result = try await ns.run(["runuser", "-u", user, "--", "env", "-C", "/", "HOME=/home/\(user)", Self.mcrun] + arguments)
        let json = try? JSONDecoder().decode(JSONValue.self, from: Data(result.standardOutput.utf8))
        return (result, json)
    }

    private func runtime(_ ns: SystemdNamespace, _ ticket: String, as user: String) async throws -> JSONValue? {
        let (_, json) = try await mcrun(ns, as: user, ["ps", "--json"])
        return json?.at("runtimes")?.arrayValue?.first { $0.at("ticket")?.stringValue == ticket }
    }

    private func install(_ ns: SystemdNamespace) async throws {
        let package = try ns.stagePackage()
        let install = try await ns.run(["bash", package + "/scripts/install.sh", "--binaries", package + "/bin"], timeout: .seconds(60))
        #expect(install.succeeded, "\(install)")
    }

    /// dist/mcrun-tmux-sandbox.conf, the documented example, as a drop-in: the agents still
    /// start and log, write their home, and cannot write the rest of the system.
    @Test func theExampleSandboxForTheAgentsKeepsThemWorking() async throws {
        try await SystemdNamespace.withBooted(overlaid: SystemdNamespace.installOverlays) { ns in
            try await install(ns)
            let sandbox = try String(contentsOfFile: Scratch.packageRoot + "/dist/mcrun-tmux-sandbox.conf", encoding: .utf8)
            try await ns.install(dropIn: sandbox, for: "mcrun-tmux.service", name: "sandbox")
            try await ns.systemctl("start", "mcrun.service")
            try await ns.waitFor("mcrun-tmux.service", toHave: ["ActiveState": "active", "SubState": "running"])
            #expect(try await ns.show("mcrun-tmux.service", ["ProtectSystem"])["ProtectSystem"] == "strict")

            let probe = """
                touch /usr/local/agent-was-here 2>/dev/null && echo usr-writable || echo usr-read-only
                touch /home/mcrun/agent-was-here && echo home-writable
                exec sleep 600
                """
            let (started, json) = try await mcrun(ns, as: "mcrun", ["start", "SANDBOXED", "--json", "--cwd", "/home/mcrun", "--", "/bin/sh", "-c", probe])
            #expect(json?.at("runtime.pid")?.intValue != nil, "\(started)")
            try await ns.waitFor("the sandboxed agent's pane log") {
                let log = try await mcrun(ns, as: "mcrun", ["logs", "SANDBOXED"]).0.standardOutput
                return log.contains("home-writable") && log.contains("usr-")
            }
            let log = try await mcrun(ns, as: "mcrun", ["logs", "SANDBOXED"]).0.standardOutput
            #expect(log.contains("usr-read-only"), "\(log)")
            #expect(!FileManager.default.fileExists(atPath: ns.hostPath("/usr/local/agent-was-here")))
            #expect(FileManager.default.fileExists(atPath: ns.hostPath("/home/mcrun/agent-was-here")))
            #expect(try await runtime(ns, "SANDBOXED", as: "mcrun")?.at("alive") == .bool(true))
        }
    }

    @Test func installedUnitsRunAsMcrunHardenedAndOperatorsReadAndWatchOnly() async throws {
        let hostPasswd = try String(contentsOfFile: "/etc/passwd", encoding: .utf8)
        let hostFiles = ["/etc/mcrun/mcrun.conf", "/etc/systemd/system/mcrun.service", "/usr/local/bin/mcrun"]
        let hostHad = hostFiles.map { FileManager.default.fileExists(atPath: $0) }

        try await SystemdNamespace.withBooted(overlaid: SystemdNamespace.installOverlays) { ns in
            // The install path, with the binaries under test instead of a release build.
            try await install(ns)
            for path in [
                "/usr/local/bin/mcrun", "/usr/local/bin/mcrun-pane-log", "/usr/local/bin/mcrun-shim", "/usr/local/lib/mcrun/hooks/pane-log",
                "/usr/local/lib/mcrun/hooks/claude-code/settings.json", "/etc/systemd/system/mcrun.service",
                "/etc/systemd/system/mcrun-tmux.service", "/etc/sysusers.d/mcrun.conf", "/etc/mcrun/mcrun.conf",
            ] {
                #expect(FileManager.default.fileExists(atPath: ns.hostPath(path)), "\(path) was not installed")
            }
            let passwd = try await ns.run(["getent", "passwd", "mcrun"])
            #expect(passwd.standardOutput.contains("/home/mcrun"), "\(passwd)")
            #expect(FileManager.default.fileExists(atPath: ns.hostPath("/home/mcrun")), "tmpfiles.d made no home")

            // An operator: a member of group mcrun.
            let added = try await ns.run(["useradd", "--no-create-home", "--groups", "mcrun", "--shell", "/bin/sh", Self.operatorName])
            #expect(added.succeeded, "\(added)")

            // Both units start as mcrun, the tmux server because mcrun.service wants it.
            try await ns.systemctl("start", "mcrun.service")
            try await ns.waitFor("mcrun.service", toHave: ["ActiveState": "active", "SubState": "running"])
            try await ns.waitFor("mcrun-tmux.service", toHave: ["ActiveState": "active", "SubState": "running"])
            for unit in ["mcrun.service", "mcrun-tmux.service"] {
                let pid = try #require(try await ns.show(unit, ["MainPID"])["MainPID"])
                let status = try await ns.run(["cat", "/proc/\(pid)/status"]).standardOutput
                let uid = try await ns.run(["id", "-u", "mcrun"]).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(status.contains("\nUid:\t\(uid)\t"), "\(unit) does not run as mcrun:\n\(status)")
            }

            // systemd's own verdict on the hardening of the unit as installed and running.
            let security = try await ns.run(["systemd-analyze", "security", "--no-pager", "mcrun.service"])
            let line = try #require(
                security.standardOutput.split(separator: "\n").first { $0.contains("Overall exposure level for mcrun.service") },
                "\(security)")
            let score = try #require(
                line.components(separatedBy: "mcrun.service:").last?.split(separator: " ").first.flatMap { Double($0) }, "\(line)")
            #expect(score <= 3.0, "systemd-analyze security mcrun.service: \(line)")
            print("systemd-analyze security mcrun.service: \(score)")

            // The mcrun user starts an agent; no MCRUN_STATE_DIR anywhere: the configuration
            // file names the service's state directory.
            let agentScript = "echo agent-ready; while IFS= read -r line; do echo \"agent got: $line\"; done"
            let (started, startJSON) = try await mcrun(
                ns, as: "mcrun", ["start", "A", "--json", "--cwd", "/home/mcrun", "--", "/bin/sh", "-c", agentScript])
            let pid = try #require(startJSON?.at("runtime.pid")?.intValue, "\(started)")
            #expect(startJSON?.at("runtime.pane_log_missing") == .null, "the installed hooks were not found: \(started)")
            #expect(!started.standardError.contains("without a pane log"), "\(started)")
            let agentStatus = try await ns.run(["cat", "/proc/\(pid)/status", "/proc/\(pid)/cgroup"]).standardOutput
            let mcrunUID = try await ns.run(["id", "-u", "mcrun"]).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(agentStatus.contains("\nUid:\t\(mcrunUID)\t"), "the agent does not run as mcrun:\n\(agentStatus)")
            #expect(agentStatus.contains("/system.slice/mcrun-tmux.service"), "\(agentStatus)")
            try await ns.waitFor("the service to count the agent") {
                try await ns.show("mcrun.service", ["StatusText"])["StatusText"]?.hasPrefix("1 live") == true
            }

            // The operator reads the service's ledger: ps, show, logs, events, harvest.
            let seen = try await runtime(ns, "A", as: Self.operatorName)
            #expect(seen?.at("pid")?.intValue == pid && seen?.at("alive") == .bool(true), "operator's ps: \(String(describing: seen))")
            for arguments in [["show", "A", "--json"], ["events", "--json"], ["harvest", "A", "--json"]] {
                let (result, _) = try await mcrun(ns, as: Self.operatorName, arguments)
                #expect(result.succeeded, "\(result)")
            }
            try await ns.waitFor("the pane log, read by the operator") {
                try await mcrun(ns, as: Self.operatorName, ["logs", "A"]).0.standardOutput.contains("agent-ready")
            }

            // ...but changes nothing: refused, naming the user to run as.
            let (stop, _) = try await mcrun(ns, as: Self.operatorName, ["stop", "A"])
            #expect(stop.status >> 8 == 5 && stop.status & 0x7f == 0, "\(stop)")
            #expect(stop.standardError.contains("belongs to user mcrun") && stop.standardError.contains("sudo -u mcrun"), "\(stop)")
            #expect(try await ns.run(["kill", "-0", String(pid)]).succeeded, "the operator's stop reached the agent")

            // Read-only watching: serve grants the operator read-only access to the tmux server.
            try await ns.waitFor("serve to grant the operator read-only tmux access", timeout: .seconds(30)) {
                try await ns.run(["tmux", "-S", Self.socket, "server-access", "-l"]).standardOutput.contains("\(Self.operatorName) (R)")
            }
            let watch = try await ns.run(
                ["bash", "-c", Self.readOnlyAttachScript, "watch", Self.socket, "=A@1", Self.operatorName, "\(Self.mcrun) attach A"], timeout: .seconds(30))
            #expect(watch.succeeded, "\(watch)")
            #expect(watch.standardOutput.contains("agent-ready"), "the attached operator did not see the pane: \(watch)")
            let pane = try await ns.run(["tmux", "-S", Self.socket, "capture-pane", "-p", "-t", "=A@1:"]).standardOutput
            #expect(pane.contains("agent got: typed-by-root"), "\(pane)")
            #expect(!pane.contains("typed-by-operator"), "a read-only operator's keys reached the agent:\n\(pane)")

            // The service user's self-check is clean: nothing fails (warnings, such as no
            // cgroup delegation yet, are allowed).
            let (doctor, report) = try await mcrun(ns, as: "mcrun", ["doctor", "--json"])
            #expect(doctor.succeeded, "\(doctor)")
            let failed = (report?.at("checks")?.arrayValue ?? []).filter { $0.at("status")?.stringValue == "fail" }
            #expect(report?.at("checks")?.arrayValue?.isEmpty == false && failed.isEmpty, "\(doctor)")

            // The hardened supervisor still does its job: a killed agent is noticed (pidfd,
            // /proc of the agents) and relaunched.
            #expect(try await ns.run(["kill", "-KILL", String(pid)]).succeeded)
            try await ns.waitFor("A relaunched in episode 2 by the hardened service", timeout: .seconds(30)) {
                try await runtime(ns, "A", as: Self.operatorName)?.at("episode")?.intValue == 2
            }
            let journal = try await ns.journal("mcrun.service", format: "cat")
            #expect(!journal.contains("operators_not_granted") && !journal.contains("cannot grant"), "\(journal)")

            // Uninstall removes what was installed and keeps the configuration and the state.
            try await ns.systemctl("stop", "mcrun.service", "mcrun-tmux.service")
            let uninstall = try await ns.run(
                ["bash", SystemdNamespace.stagedPackage + "/scripts/install.sh", "--uninstall"], timeout: .seconds(60))
            #expect(uninstall.succeeded, "\(uninstall)")
            for path in ["/usr/local/bin/mcrun", "/usr/local/lib/mcrun", "/etc/systemd/system/mcrun.service", "/etc/sysusers.d/mcrun.conf"] {
                #expect(!FileManager.default.fileExists(atPath: ns.hostPath(path)), "\(path) survived the uninstall")
            }
            for path in ["/etc/mcrun/mcrun.conf", "/var/lib/mcrun/ledger.sqlite"] {
                #expect(FileManager.default.fileExists(atPath: ns.hostPath(path)), "\(path) was removed without --purge")
            }
        }
        #expect(try String(contentsOfFile: "/etc/passwd", encoding: .utf8) == hostPasswd, "the host's /etc/passwd changed")
        #expect(hostFiles.map { FileManager.default.fileExists(atPath: $0) } == hostHad, "the install reached the host's files")
    }

    /// As OPERATOR, attaches with ATTACH (`mcrun attach TICKET`, read-only by default) to
    /// SESSION (`=NAME`) through a pseudo-terminal (`script`), types a
    /// line once attached, then root types another line and detaches the operator once the
    /// agent has answered root's. Prints what the operator's terminal showed. Every wait is
    /// bounded (5 s) and says what it waited for.
    static let readOnlyAttachScript = #"""
        set -eu -o pipefail
        socket=$1 session=$2 user=$3 attach=$4
        out=$(mktemp)
        chown "$user" "$out"
        wait_for() { # DESCRIPTION COMMAND...
            local what=$1; shift
            for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
            echo "timed out waiting for $what" >&2; return 1
        }
        attached() { tmux -S "$socket" list-clients -F '#{client_readonly}' | grep -qx 1; }
        answered() { tmux -S "$socket" capture-pane -p -t "$session:" | grep -q 'agent got: typed-by-root'; }
        (
            # However this ends, the operator's client is detached, so `script` ends too.
            trap 'tmux -S "$socket" detach-client -s "$session" 2>/dev/null || true' EXIT
            wait_for "the operator's client" attached
            printf 'typed-by-operator\r'
            tmux -S "$socket" send-keys -t "$session:" -l 'typed-by-root'
            tmux -S "$socket" send-keys -t "$session:" Enter
            wait_for "the agent's answer to root" answered
        ) | runuser -u "$user" -- env -C / HOME="/home/$user" script -qfec "TERM=xterm $attach" "$out" >/dev/null
        cat "$out"
        """#
}
