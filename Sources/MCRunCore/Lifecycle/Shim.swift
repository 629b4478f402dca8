import CLinux
import Glibc

/// The pane's only process before the agent: `mcrun shim --runtime ID`. It records its own
/// identity (PID and start time survive exec, so they are the agent's) in the ledger with
/// a compare-and-set from `launching`, then execs the agent. No shell runs in between.
public enum Shim {
    /// Variables the pane sets for itself; every other variable is the recorded environment.
    static let fromPane = ["TMUX", "TMUX_PANE", "TERM"]
    /// The shim's exit code when the ledger would not take the agent's identity (locked past
    /// the busy timeout, read-only, full): EX_TEMPFAIL, so the launcher can tell the host's
    /// failure from the agent's (`ledger_unwritable`, a relaunch owed again, no escalation).
    public static let ledgerUnwritableExitCode: Int32 = 75
    /// How the shim's last words start then: the launcher reads them from the pane when tmux
    /// (3.3) lost the exit status.
    public static let ledgerUnwritableMessage = "cannot record the agent's identity"

    public static func run(context: MCRunContext, runtimeID: Int64) -> Never {
        func die(_ message: String, code: Int32) -> Never {
            let line = "mcrun shim: \(message)\n"
            _ = line.utf8CString.withUnsafeBytes { write(2, $0.baseAddress, $0.count - 1) }
            exit(code)
        }
        let ledger = context.ledger
        let actor = "shim (pid \(getpid()))"
        guard let (runtime, cgroupRoot) = try? ledger.read({ db in (try Ledger.runtime(db, id: runtimeID), try HostConfig.value(db, .cgroupRoot)) }),
            let runtime
        else {
            die("runtime \(runtimeID) is not in the ledger", code: 1)
        }
        guard runtime.state == .launching else {
            die("runtime \(runtimeID) is \(runtime.state.rawValue), not launching; the agent is not started", code: 1)
        }
        func failLaunch(_ reason: String, _ message: String, code: Int32) -> Never {
            try? Ending(context: context).recordFromShim(runtimeID: runtimeID, .launchFailed(reason: reason, detail: ["error": .string(message)]))
            die(message, code: code)
        }
        let identity: AgentIdentity
        do { identity = try AgentIdentity.current() } catch { failLaunch("no_identity", error.message, code: 1) }

        var env = runtime.env
        for key in fromPane { env[key] = nil }
        for key in fromPane { if let value = context.environment[key] { env[key] = value } }
        env["MCRUN_TICKET"] = runtime.ticket
        env["MCRUN_EPISODE"] = String(runtime.episode)
        env["MCRUN_NONCE"] = runtime.nonce
        env["MCRUN_RUNTIME_ID"] = String(runtimeID)
        env["MCRUN_STATE_DIR"] = context.stateDirectory.path

        guard chdir(runtime.cwd) == 0 else {
            failLaunch("bad_cwd", "cannot enter \(runtime.cwd): \(String(cString: strerror(errno)))", code: 126)
        }
        guard let program = Executable.resolve(runtime.argv[0], path: env["PATH"], cwd: runtime.cwd) else {
            failLaunch("command_not_found", "\(runtime.argv[0]): command not found", code: 127)
        }
        // Join the runtime's cgroup before the exec, so the agent and all it starts are in it.
        let joined = Shim.joinCgroup(runtime, setting: cgroupRoot, stateDirectory: context.stateDirectory.path)
        let paneID = context.environment["TMUX_PANE"]
        let recorded: (runtime: Runtime, applied: Bool)
        do {
            recorded = try ledger.applyIfCurrent(Transition.launched, to: runtimeID, actor: actor, data: ["pid": .int(Int64(identity.pid))]) { r in
                r.record(identity)
                r.startedAt = WallClock.now()
                if let paneID { r.paneID = paneID }
                r.cgroup = joined.cgroup
                r.cgroupMissing = joined.missing
            }
        } catch {
            die("\(ledgerUnwritableMessage): \(error.message)", code: ledgerUnwritableExitCode)
        }
        guard recorded.applied else {
            die("runtime \(runtimeID) became \(recorded.runtime.state.rawValue) before the agent started; not starting it", code: 1)
        }
        let environment = env.map { "\($0.key)=\($0.value)" }.sorted()
        mcrun_reset_signals()
        withCStrings(runtime.argv) { argv in
            withCStrings(environment) { envp in
                _ = execve(program, argv, envp)
            }
        }
        let reason = String(cString: strerror(errno))
        try? Ending(context: context).recordFromShim(runtimeID: runtimeID, .execFailed(detail: ["error": .string(reason)]))
        die("cannot execute \(program): \(reason)", code: 126)
    }

    static func joinCgroup(_ runtime: Runtime, setting: String?, stateDirectory: String) -> RuntimeCgroup.Joined {
        let hierarchy = CgroupHierarchy.current()
        let placement = CgroupPlacement.resolve(setting: setting, stateDirectory: stateDirectory, hierarchy: hierarchy)
        return RuntimeCgroup.join(
            ticket: runtime.ticket, episode: runtime.episode, limits: runtime.limits ?? ResourceLimits(), placement: placement, hierarchy: hierarchy)
    }
}
