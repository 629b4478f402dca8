import ArgumentParser
import Foundation
import Glibc
import MCRunCore
import MCRunService

struct HostDoctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this host's mcrun set-up: each check ok, warn or fail, with the fix.",
        discussion: """
            Checks tmux (version, mcrun's server options), pidfd and PIDFD_GET_INFO,
            cgroup v2 (unified or hybrid), which hierarchy enforces each limit and where
            the agents' cgroups go, the pane-log hook and the agent hooks, the agent
            hook configuration of this user, the state directory's owner and modes, the
            ledger's integrity (PRAGMA quick_check on a read-only connection), whether
            serve runs and its STATUS, and the systemd units. It changes nothing: no
            directory or ledger is created. Exit 0 when no check fails (warnings allowed),
            7 when one fails (--json: code 503).

            EXAMPLES:
              mcrun doctor
              mcrun doctor --json | jq '.checks[] | select(.status != "ok")'
              sudo -u mcrun mcrun doctor --state-dir /var/lib/mcrun
            """)

    /// Only `doctor` exits 7: the command worked, and the host has a problem.
    static let failureExitCode: Int32 = 7

    @OptionGroup var global: GlobalOptions

    enum Status: String {
        case ok, warn, fail
    }

    struct Check {
        var name: String
        var status: Status
        var detail: String
        var fix: String?

        var json: JSONValue {
            ["name": .string(name), "status": .string(status.rawValue), "detail": .string(detail), "fix": JSONValue(fix)]
        }
    }

    func run() throws {
        let env = MCRunContext.processEnvironment()
        let directory: StateDirectory
        do {
            directory = try global.stateDirectory(env)
        } catch {
            // A configuration file that does not parse leaves nothing to check against.
            Output.fail(error, json: global.json)
            throw ExitCode(error.code.exitCode)
        }
        let checks = Self.checks(stateDirectory: directory, environment: env)
        let failed = checks.filter { $0.status == .fail }.count
        let warned = checks.filter { $0.status == .warn }.count
        if global.json {
            Output.printJSON([
                "ok": .bool(failed == 0), "code": .int(failed == 0 ? 200 : 503), "checks": .array(checks.map(\.json)),
                "failed": .int(Int64(failed)), "warned": .int(Int64(warned)),
            ])
        } else {
            var lines = checks.map { c in
                "\(c.status.rawValue.uppercased().padding(toLength: 5, withPad: " ", startingAt: 0)) \(c.name): \(c.detail)"
                    + (c.fix.map { "\n      fix: \($0)" } ?? "")
            }
            lines.append("\n\(failed) failed, \(warned) warned, \(checks.count - failed - warned) ok")
            Output.write(lines.joined(separator: "\n") + "\n", to: 1)
        }
        if failed > 0 {
            let names = checks.filter { $0.status == .fail }.map(\.name).joined(separator: ", ")
            Output.write("mcrun: doctor: \(failed) check\(failed == 1 ? "" : "s") failed (\(names)); each says its fix\n", to: 2)
            throw ExitCode(Self.failureExitCode)
        }
    }

    static func checks(stateDirectory: StateDirectory, environment env: [String: String]) -> [Check] {
        var checks: [Check] = []
        checks += tmux(stateDirectory, env)
        checks += kernel(serverPID: tmuxServerPID(stateDirectory, env), stateDirectory: stateDirectory)
        checks += hooks(env)
        checks += state(stateDirectory)
        checks += serve(stateDirectory)
        checks += incidents(stateDirectory)
        checks += units()
        return checks
    }

    // MARK: tmux

    static func tmux(_ directory: StateDirectory, _ env: [String: String]) -> [Check] {
        let server = TmuxServer(directory: directory, environment: env)
        guard let version = try? Subprocess.run([server.binary, "-V"], timeoutMilliseconds: 5_000), version.succeeded else {
            return [Check(name: "tmux", status: .fail, detail: "\(server.binary) does not run", fix: "install tmux 3.2 or later (apt-get install tmux)")]
        }
        let text = version.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        let number = Double(text.split(separator: " ").last.map { $0.prefix { $0.isNumber || $0 == "." } } ?? "") ?? 0
        var checks = [
            number >= 3.2
                ? Check(name: "tmux", status: .ok, detail: text)
                : Check(
                    name: "tmux", status: .warn, detail: "\(text): read-only attach that leaves the agent's pane size alone needs 3.2",
                    fix: "install tmux 3.2 or later")
        ]
        guard access(server.socketPath, F_OK) == 0 else {
            checks.append(
                Check(
                    name: "tmux server", status: .warn, detail: "mcrun's tmux server is not running (\(server.socketPath))",
                    fix: "systemctl start mcrun-tmux.service, or mcrun serve / the first mcrun start starts it"))
            return checks
        }
        let options = try? server.run([["show-options", "-g", "exit-empty"], ["show-options", "-gw", "remain-on-exit"]])
        guard let options, options.succeeded else {
            checks.append(
                Check(
                    name: "tmux server", status: .warn, detail: "mcrun's tmux server does not answer on \(server.socketPath)",
                    fix: "systemctl restart mcrun-tmux.service, or remove the stale socket"))
            return checks
        }
        let shown = Set(options.stdoutText.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        let missing = ["exit-empty off", "remain-on-exit on"].filter { !shown.contains($0) }
        checks.append(
            missing.isEmpty
                ? Check(name: "tmux server", status: .ok, detail: "running; exit-empty off, remain-on-exit on")
                // Every launch sets them again, so only a server no launch has reached yet lacks them.
                : Check(
                    name: "tmux server", status: .warn,
                    detail: "running without \(missing.joined(separator: ", ")) (set by mcrun's next start): until then the server may exit when empty",
                    fix: "start it with mcrun's config: tmux -S \(server.socketPath) -f \(server.configPath), or start an agent"))
        return checks
    }

    // MARK: kernel

    /// The PID of mcrun's tmux server, when it answers.
    static func tmuxServerPID(_ directory: StateDirectory, _ env: [String: String]) -> Int32? {
        let server = TmuxServer(directory: directory, environment: env)
        guard access(server.socketPath, F_OK) == 0, let r = try? server.run([["display-message", "-p", "#{pid}"]]), r.succeeded else { return nil }
        return Int32(r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func kernel(serverPID: Int32?, stateDirectory: StateDirectory) -> [Check] {
        var checks = [
            KernelSupport.pidfd
                ? Check(name: "pidfd", status: .ok, detail: "pidfd_open works: deaths are noticed as they happen")
                : Check(
                    name: "pidfd", status: .warn, detail: "pidfd_open is refused: deaths are noticed by polling",
                    fix: "Linux 5.3 or later, and no seccomp filter denying pidfd_open"),
            KernelSupport.pidfdGetInfo
                ? Check(name: "PIDFD_GET_INFO", status: .ok, detail: "exit statuses come from the kernel")
                : Check(
                    name: "PIDFD_GET_INFO", status: .warn, detail: "not supported: exit statuses are read from tmux's dead pane", fix: "Linux 6.15 or later"),
        ]
        return checks + cgroups(serverPID: serverPID, stateDirectory: stateDirectory.path)
    }

    /// The hierarchy (unified or hybrid), where each limit can be enforced, and where the
    /// agents' cgroups go, seen from mcrun's tmux server (the shim is its child).
    static func cgroups(serverPID: Int32?, stateDirectory: String) -> [Check] {
        let hierarchy = CgroupHierarchy.current()
        guard let mount = hierarchy.unifiedMount else {
            return [
                Check(
                    name: "cgroup v2", status: .warn, detail: "no cgroup2 file system: agents run without cgroups; leftovers are found by searching /proc",
                    fix: "mount cgroup2 (boot with systemd.unified_cgroup_hierarchy=1)")
            ]
        }
        var checks: [Check] = []
        let v1 = hierarchy.ownV1.keys.sorted()
        checks.append(
            Check(
                name: "cgroup v2", status: .ok,
                detail: v1.isEmpty
                    ? "unified hierarchy at \(mount)"
                    : "hybrid hierarchy: cgroup2 at \(mount) (membership, kill, events), \(v1.joined(separator: ", ")) in cgroup v1"))
        let support = hierarchy.limitSupport()
        let missing = CgroupHierarchy.limitControllers.filter { support[$0] == nil }
        let detail = CgroupHierarchy.limitControllers.map { "\($0): \(support[$0] ?? "none")" }.joined(separator: ", ")
        checks.append(
            missing.isEmpty
                ? Check(name: "cgroup limits", status: .ok, detail: "enforced by \(detail)")
                : Check(
                    name: "cgroup limits", status: .warn, detail: "\(detail): \(missing.joined(separator: ", ")) limits are recorded but not enforced",
                    fix: "enable the controller for mcrun-tmux.service (Delegate=yes on a unified host) or mount its cgroup v1 hierarchy"))
        let seen = serverPID.flatMap(CgroupHierarchy.of(pid:)) ?? hierarchy
        switch CgroupPlacement.resolve(setting: nil, stateDirectory: stateDirectory, hierarchy: seen, create: false) {
        case .base(let base, _):
            checks.append(
                Check(name: "runtime cgroups", status: .ok, detail: "each agent gets runtime-TICKET-EPISODE under \(base); stop kills it whole"))
        case .unavailable(let why):
            checks.append(
                Check(
                    name: "runtime cgroups", status: .warn, detail: "agents run without cgroups (\(why)); leftovers are found by searching /proc",
                    fix: "Delegate=yes on mcrun-tmux.service (as shipped), root outside systemd, or mcrun config cgroup-root PATH"))
        }
        return checks
    }

    // MARK: hooks

    static func hooks(_ env: [String: String]) -> [Check] {
        let executable = MCRunContext.executable(environment: env)
        guard let dir = PaneHooks.hooksDirectory(environment: env, executable: executable) else {
            return [
                Check(
                    name: "pane-log hook", status: .fail, detail: "no hooks folder found: agents run without a pane log",
                    fix: "install mcrun's hooks to /usr/local/lib/mcrun/hooks with the install script, or set MCRUN_HOOKS_DIR")
            ]
        }
        var checks: [Check] = []
        let filter = PaneHooks.paneLogBinary(environment: env, executable: executable)
        if access(dir + "/pane-log", X_OK) != 0 {
            checks.append(
                Check(
                    name: "pane-log hook", status: .fail, detail: "\(dir)/pane-log is missing or not executable: agents run without a pane log",
                    fix: "install mcrun's hooks folder there, or point MCRUN_HOOKS_DIR at it"))
        } else if access(filter, X_OK) != 0 {
            checks.append(
                Check(
                    name: "pane-log hook", status: .fail, detail: "\(filter) is missing: the pane-log hook has no filter to run",
                    fix: "install mcrun-pane-log beside mcrun, or set MCRUN_PANE_LOG_BIN"))
        } else {
            checks.append(Check(name: "pane-log hook", status: .ok, detail: "\(dir)/pane-log with \(filter)"))
        }
        let claude = dir + "/claude-code/settings.json"
        checks.append(
            access(claude, R_OK) == 0
                ? Check(name: "agent hooks", status: .ok, detail: "Claude Code hooks at \(dir)/claude-code")
                : Check(name: "agent hooks", status: .warn, detail: "no \(claude)", fix: "install mcrun's hooks folder, which carries claude-code/"))
        let home = env["HOME"] ?? "/"
        let settings = String(data: FileManager.default.contents(atPath: home + "/.claude/settings.json") ?? Data(), encoding: .utf8) ?? ""
        let file = "\(home)/.claude/settings.json"
        let setup = "mcrun agent setup claude-code --user"
        checks.append(
            settings.contains("mcrun agent report")
                ? Check(name: "agent hook configuration", status: .ok, detail: "\(file) reports turns, waits and receipts with mcrun agent report")
                : settings.contains("mcrun activity")
                    ? Check(
                        name: "agent hook configuration", status: .warn,
                        detail: "\(file) calls mcrun activity, which exits 2 outside a runtime (Claude Code then blocks the tool call or erases the prompt)",
                        fix: setup)
                    : Check(
                        name: "agent hook configuration", status: .warn,
                        detail: "\(file) does not call mcrun agent report: Claude Code agents of this user are judged busy by pane output only",
                        fix: setup))
        return checks
    }

    // MARK: state

    static func state(_ directory: StateDirectory) -> [Check] {
        var st = stat()
        guard stat(directory.path, &st) == 0 else {
            return [
                Check(
                    name: "state directory", status: .warn, detail: "\(directory.path) does not exist yet",
                    fix: "the first mcrun command (or the service) creates it; check that this is the directory the service uses")
            ]
        }
        var checks: [Check] = []
        let mode = st.st_mode & 0o7777
        let owner = getpwuid(st.st_uid).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? "uid \(st.st_uid)"
        if st.st_uid != geteuid(), mode & 0o050 == 0o050, inGroup(st.st_gid) {
            let group = getgrgid(st.st_gid).flatMap { $0.pointee.gr_name.map { String(cString: $0) } } ?? "gid \(st.st_gid)"
            checks.append(
                Check(
                    name: "state directory", status: .warn,
                    detail: "\(directory.path) belongs to \(owner); this user reads it through group \(group) and cannot change anything",
                    fix: "to start, stop or configure: sudo -u \(owner) mcrun ..."))
        } else if st.st_uid != geteuid() && geteuid() != 0 {
            // Root acts as the owner (see StateDirectory.checkAccess); anyone else is refused.
            checks.append(
                Check(
                    name: "state directory", status: .fail, detail: "\(directory.path) belongs to \(owner), not to this user",
                    fix: "run mcrun as \(owner): sudo -u \(owner) mcrun ..."))
        } else if mode & 0o007 != 0 {
            checks.append(
                Check(
                    name: "state directory", status: .fail,
                    detail: "\(directory.path) has mode \(String(mode, radix: 8)): others can reach mcrun's tmux socket",
                    fix: "chmod 0700 \(directory.path) (0750 to let a group read)"))
        } else {
            checks.append(Check(name: "state directory", status: .ok, detail: "\(directory.path), owner \(owner), mode \(String(mode, radix: 8))"))
        }
        var ledgerStat = stat()
        guard stat(directory.ledgerPath, &ledgerStat) == 0 else {
            checks.append(Check(name: "ledger", status: .warn, detail: "no ledger yet at \(directory.ledgerPath)", fix: "the first mcrun command creates it"))
            return checks
        }
        if ledgerStat.st_mode & 0o007 != 0 {
            checks.append(
                Check(
                    name: "ledger mode", status: .fail,
                    detail: "\(directory.ledgerPath) has mode \(String(ledgerStat.st_mode & 0o777, radix: 8)): others can read agents' environments",
                    fix: "chmod 0600 \(directory.ledgerPath)"))
        }
        guard access(directory.ledgerPath, R_OK) == 0 else {
            checks.append(
                Check(
                    name: "ledger", status: .warn, detail: "\(directory.ledgerPath) is not readable by this user: its integrity is not checked",
                    fix: "run doctor as its owner: sudo -u \(owner) mcrun doctor"))
            return checks
        }
        let inspection = Ledger.inspect(path: directory.ledgerPath)
        if !inspection.integrity.ok {
            checks.append(
                Check(
                    name: "ledger", status: .fail, detail: "quick_check: \(inspection.integrity.detail)",
                    fix: "stop mcrun serve, keep a copy of \(directory.ledgerPath)*, and recover it (sqlite3 ledger.sqlite .recover) or restore a backup"))
        } else if !inspection.pendingMigrations.isEmpty {
            checks.append(
                Check(
                    name: "ledger", status: .warn,
                    detail: "quick_check ok; migrations not yet applied: \(inspection.pendingMigrations.joined(separator: ", "))",
                    fix: "the next mcrun command or serve applies them"))
        } else {
            checks.append(Check(name: "ledger", status: .ok, detail: "quick_check ok"))
        }
        return checks
    }

    static func inGroup(_ gid: gid_t) -> Bool {
        if getegid() == gid { return true }
        var groups = [gid_t](repeating: 0, count: Int(NGROUPS_MAX))
        let n = getgroups(Int32(groups.count), &groups)
        return n > 0 && groups[0..<Int(n)].contains(gid)
    }

    // MARK: serve and units

    static var systemdRuns: Bool { access("/run/systemd/system", F_OK) == 0 }

    static func serve(_ directory: StateDirectory) -> [Check] {
        var status: String?
        if systemdRuns, let shown = try? Subprocess.run(["systemctl", "show", "-p", "StatusText", "--value", "mcrun.service"], timeoutMilliseconds: 5_000),
            shown.succeeded
        {
            let text = shown.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty { status = text }
        }
        let heartbeat = access(directory.ledgerPath, F_OK) == 0 ? Ledger.inspect(path: directory.ledgerPath).heartbeat : nil
        guard let pid = ServeLock.holder(directory) else {
            return [
                Check(
                    name: "serve", status: .warn,
                    detail: "no mcrun serve supervises \(directory.path): deaths are noticed only when a command touches the ticket",
                    fix: "systemctl enable --now mcrun.service (or run: mcrun serve)")
            ]
        }
        if status == nil, let heartbeat {
            status = heartbeat.status + " (heartbeat \(Int(max(0, WallClock.now() - heartbeat.lastPassAt)))s old)"
        }
        let age = heartbeat.map { WallClock.now() - $0.lastPassAt }
        if let age, heartbeat?.pid == pid, age > 120 {
            return [
                Check(
                    name: "serve", status: .warn, detail: "pid \(pid) runs but its last full pass was \(Int(age))s ago: \(status ?? "-")",
                    fix: "look at its log (journalctl -u mcrun); a stuck loop is restarted by the watchdog under systemd")
            ]
        }
        return [Check(name: "serve", status: .ok, detail: "pid \(pid): \(status ?? "no status yet")")]
    }

    /// Open host incidents: a breaker holding every start fails; a tmux server lost warns
    /// (its runtimes are relaunched once it is back).
    static func incidents(_ directory: StateDirectory) -> [Check] {
        guard access(directory.ledgerPath, F_OK) == 0 else { return [] }
        let open = Ledger.inspect(path: directory.ledgerPath).incidents
        guard !open.isEmpty else { return [Check(name: "host incidents", status: .ok, detail: "none open")] }
        return open.map { incident in
            switch incident.kind {
            case .breaker:
                Check(
                    name: "host breaker", status: .fail, detail: incident.summary(),
                    fix: "find the common cause (mcrun breaker status), fix it, then: mcrun breaker close")
            case .tmuxLost:
                Check(
                    name: "host incident", status: .warn, detail: incident.summary(),
                    fix: "systemctl start mcrun-tmux.service (under systemd serve waits for it), or run mcrun serve")
            case .launchFailed:
                Check(
                    name: "host incident", status: .warn, detail: incident.summary(),
                    fix: "look at the retry_owed events (mcrun events --kind retry_owed) and serve's log for why tmux could not start the agents")
            }
        }
    }

    static let unitNames = ["mcrun.service", "mcrun-tmux.service"]
    static let unitDirectories = [
        "/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system",
    ]

    static func units() -> [Check] {
        unitNames.map { unit in
            guard systemdRuns else {
                guard let installed = unitDirectories.first(where: { access($0 + "/" + unit, F_OK) == 0 }) else {
                    return Check(
                        name: unit, status: .warn, detail: "not installed",
                        fix: "sudo scripts/install.sh (from mcrun's source), then: systemctl enable --now \(unit)")
                }
                return Check(name: unit, status: .ok, detail: "installed in \(installed); systemd does not run here")
            }
            // systemd's own view: where it loaded the unit from and whether it is enabled.
            let shown =
                (try? Subprocess.run(["systemctl", "show", "-p", "LoadState,FragmentPath,UnitFileState", unit], timeoutMilliseconds: 5_000))?.stdoutText ?? ""
            var properties: [String: String] = [:]
            for line in shown.split(separator: "\n") {
                guard let eq = line.firstIndex(of: "=") else { continue }
                properties[String(line[..<eq])] = String(line[line.index(after: eq)...])
            }
            guard properties["LoadState"] == "loaded", let path = properties["FragmentPath"] else {
                return Check(
                    name: unit, status: .warn, detail: "not installed",
                    fix: "sudo scripts/install.sh (from mcrun's source), then: systemctl enable --now \(unit)")
            }
            let state = properties["UnitFileState"] ?? "unknown"
            return state.hasPrefix("enabled")
                ? Check(name: unit, status: .ok, detail: "\(path), \(state)")
                : Check(name: unit, status: .warn, detail: "\(path), \(state)", fix: "systemctl enable --now \(unit)")
        }
    }
}
