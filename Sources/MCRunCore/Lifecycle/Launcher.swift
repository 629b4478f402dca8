import CLinux
import GRDB
import Glibc
import LaunchHandshake

/// What `start` asks for.
public struct LaunchRequest: Sendable {
    public var ticket: TicketID
    public var argv: [String]
    public var cwd: String
    public var env: [String: String]
    public var owner: String?
    /// How long `start` waits for the shim to record the agent's identity.
    public var timeoutMilliseconds: Int
    /// Start an escalated ticket anyway (recorded on the `launch` event).
    public var force: Bool
    /// The agent the command runs; nil for any other program.
    public var agent: AgentKind?
    /// The argv that resumes the agent's session on a relaunch (see `ResumeTemplate`).
    public var resumeArgv: [String]?
    /// The caller's argv when `argv` is a resumed one (a relaunch); kept for the next relaunch.
    var originalArgv: [String]?
    /// The runtime's own limits; the host's defaults (`mcrun config`) fill the rest.
    public var limits: ResourceLimits

    public init(
        ticket: TicketID, argv: [String], cwd: String, env: [String: String], owner: String?, timeoutMilliseconds: Int = 10_000,
        force: Bool = false, agent: AgentKind? = nil, resumeArgv: [String]? = nil, limits: ResourceLimits = ResourceLimits()
    ) {
        self.limits = limits
        self.ticket = ticket
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self.owner = owner
        self.timeoutMilliseconds = timeoutMilliseconds
        self.force = force
        self.agent = agent
        self.resumeArgv = resumeArgv
    }
}

/// Admits a runtime in the ledger, creates its tmux session with the shim as the pane's
/// only process, and returns once the agent's identity is recorded.
public struct Launcher: Sendable {
    public let context: MCRunContext

    public init(context: MCRunContext) { self.context = context }

    public func start(_ request: LaunchRequest) throws(MCRunError) -> Runtime {
        guard !request.argv.isEmpty else { throw .badInput("no_command", "no command given; use: mcrun start TICKET -- COMMAND [ARGS...]") }
        try Self.checkDirectory(request.cwd)
        guard Executable.resolve(request.argv[0], path: request.env["PATH"], cwd: request.cwd) != nil else {
            throw .badInput("command_not_found", "command \(TicketID.printable(request.argv[0])) was not found in PATH or is not executable")
        }
        // A dead runtime still recorded live is reaped first, so the ticket is not wedged
        // behind it and its death is counted (once) before a new episode begins.
        _ = try failClosed { () throws(MCRunError) in try Ending(context: context).reapIfGone(ticket: request.ticket.rawValue) }
        let admitted = try admit(request)
        let runtime = try launch(admitted, timeoutMilliseconds: request.timeoutMilliseconds)
        _ = try? context.ledger.launchesWorkAgain(actor: context.actor)
        ServiceNudge.send(context.stateDirectory)
        return runtime
    }

    /// The relaunch owed by `retry`: a new episode of `previous`, the dead runtime it
    /// replays, with the same argv, cwd, environment and owner, through the same admission
    /// as `start` (kill switch, parked, escalated, one live runtime, capacity). The owed
    /// retry is claimed inside the admission transaction, so it is taken exactly once
    /// together with the admission; one already taken or cancelled throws `retry_cancelled`.
    /// When the start gave a resume template and the dead episode recorded its agent's
    /// session, the template with that session is run instead (`resumed_session` on the
    /// `retry` event); otherwise the caller's own argv.
    ///
    /// `startsTmuxServer` false (the service under systemd, where the server is its unit's):
    /// with no server running the relaunch is refused (`tmux_down`) before anything is
    /// admitted, and tmux is told never to start one (`tmux -N`).
    public func relaunch(
        _ retry: PendingRetry, from previous: Runtime, timeoutMilliseconds: Int = 10_000, startsTmuxServer: Bool = true
    ) throws(MCRunError) -> Runtime {
        if !startsTmuxServer, (try? context.tmux.snapshot().serverRunning) != true {
            throw MCRunError(.refused, "tmux_down", "mcrun's tmux server is not running; the relaunch of \(retry.ticket) waits for it")
        }
        let original = previous.originalArgv ?? previous.argv
        let resumed = ResumeTemplate.argv(previous.resumeArgv, sessionID: previous.agentSessionID)
        var request = LaunchRequest(
            ticket: previous.ticketID, argv: resumed ?? original, cwd: previous.cwd, env: previous.env, owner: previous.owner,
            timeoutMilliseconds: timeoutMilliseconds, agent: previous.agentKind, resumeArgv: previous.resumeArgv,
            limits: previous.limits ?? ResourceLimits())
        if resumed != nil { request.originalArgv = original }
        let resumedSession = resumed == nil ? nil : previous.agentSessionID
        let actor = context.actor
        let admitted = try admit(request, action: "retry", relaunchOf: previous.id) { db, admitted in
            guard try Ledger.claimRetry(db, ticket: retry.ticket, runtimeID: retry.runtimeID) else {
                throw MCRunError(.declined, "retry_cancelled", "the relaunch of \(retry.ticket) was cancelled or already done")
            }
            try Ledger.appendEvent(
                db, kind: "retry", runtime: admitted, actor: actor, reason: retry.hostIncidentID == nil ? "silent_retry" : "host_incident",
                data: [
                    "previous_runtime_id": .int(previous.id!), "previous_episode": .int(Int64(previous.episode)), "attempt": .int(Int64(retry.attempts + 1)),
                    "resumed_session": JSONValue(resumedSession),
                    "host_incident_id": JSONValue(retry.hostIncidentID),
                ])
        }
        let runtime = try launch(admitted, timeoutMilliseconds: timeoutMilliseconds, startsTmuxServer: startsTmuxServer)
        // A launch started: relaunches failing outside the agents are over.
        _ = try? context.ledger.launchesWorkAgain(actor: actor)
        return runtime
    }

    /// Moves the pane's shim (waiting for `go`) into the runtime's own cgroup, placed as the
    /// pane sees the hierarchy (under systemd, the tmux unit's delegated cgroup, whose
    /// server goes to its `server` leaf the first time); the runtime's limits are applied
    /// there. Without a usable cgroup the runtime has none, and says why.
    func joinCgroup(_ runtime: Runtime, panePID: Int32) -> RuntimeCgroup.Joined {
        guard let hierarchy = CgroupHierarchy.of(pid: panePID) else {
            return RuntimeCgroup.Joined(cgroup: nil, missing: "the pane's process \(panePID) is gone")
        }
        let setting = (try? context.ledger.read { db in try HostConfig.value(db, .cgroupRoot) }) ?? nil
        let placement = CgroupPlacement.resolve(setting: setting, stateDirectory: context.stateDirectory.path, hierarchy: hierarchy)
        return RuntimeCgroup.join(
            ticket: runtime.ticket, episode: runtime.episode, limits: runtime.limits ?? ResourceLimits(), placement: placement, hierarchy: hierarchy,
            pid: panePID, serverPID: ProcFS.stat(panePID)?.ppid)
    }

    /// The admission transaction: policy, the one-live-runtime index and the capacity count
    /// are all decided here, in one IMMEDIATE transaction. If the ledger cannot answer, the
    /// start is refused: an unknown count is never taken for zero.
    func admit(
        _ request: LaunchRequest, action: String = "start", relaunchOf: Int64? = nil,
        within: (Database, Runtime) throws -> Void = { _, _ in }
    ) throws(MCRunError) -> Runtime {
        let me = try AgentIdentity.current()
        let actor = context.actor
        var abandoned: Runtime?
        let admitted = try failClosed { () throws(MCRunError) in
            try context.ledger.write { db in
                let now = WallClock.now()
                let ticket = try Ledger.ensureTicket(db, id: request.ticket.rawValue, now: now)
                try Policy.checkKillSwitch(db, action: action)
                try Policy.checkNotParked(ticket, action: action)
                try Policy.checkNotHeld(db, ticket: ticket.id, action: action)
                try Policy.checkNotEscalated(ticket, action: action, force: request.force)
                let probeOf = try HostBreaker.checkAdmission(db, action: action, actor: actor, now: now)
                if let live = try Ledger.liveRuntime(db, ticket: ticket.id) {
                    guard live.isAbandonedLaunch else {
                        throw MCRunError(
                            .busy, "busy",
                            "ticket \(ticket.id) already has a live runtime (episode \(live.episode), \(live.state.rawValue)); adopt it with: mcrun adopt \(ticket.id)",
                            runtime: live)
                    }
                    abandoned = try Ending.record(
                        db, runtimeID: live.id!, cause: .launchFailed(reason: "launcher_gone", detail: [:]), facts: EndFacts(),
                        policy: try DeathPolicy.load(db), actor: actor, now: now
                    ).runtime
                }
                try Policy.checkCapacity(db)
                var runtime = Runtime(
                    id: nil, ticket: ticket.id, episode: try Ledger.nextEpisode(db, ticket: ticket.id), nonce: MCRunContext.randomNonce(),
                    owner: request.owner, state: .launching, sessionName: "", argv: request.argv, cwd: request.cwd,
                    env: request.env, launcherPID: me.pid, launcherStartTime: Int64(me.startTime),
                    createdAt: now, updatedAt: now, busy: false, relaunchOf: relaunchOf, agentKind: request.agent,
                    resumeArgv: request.resumeArgv, originalArgv: request.originalArgv)
                runtime.sessionName = "\(ticket.id)@\(runtime.episode)"
                let limits = request.limits.over(try HostConfig.defaultLimits(db))
                runtime.limits = limits.isEmpty ? nil : limits
                guard try Ledger.admitRuntime(db, &runtime) else {
                    // The index is the guarantee; the check above only gives a better answer.
                    let winner = try Ledger.liveRuntime(db, ticket: ticket.id)
                    throw MCRunError(.busy, "busy", "ticket \(ticket.id) already has a live runtime", runtime: winner)
                }
                // A caller's start supersedes a relaunch still owed for an earlier death.
                if relaunchOf == nil, try Ledger.cancelRetry(db, ticket: ticket.id) {
                    try Ledger.appendEvent(db, kind: "retry_cancelled", ticket: ticket.id, actor: actor, reason: "superseded_by_start", now: now)
                }
                var data: JSONValue = [
                    "argv": JSONValue(request.argv), "cwd": .string(request.cwd), "owner": JSONValue(request.owner),
                    "agent": JSONValue(request.agent?.rawValue),
                ]
                if ticket.escalated { data = data.merging(["forced_past_escalation": true]) }
                try Ledger.appendEvent(db, kind: "launch", runtime: runtime, actor: actor, data: data, now: now)
                if let probeOf { try HostBreaker.markProbe(db, probeOf, runtime: runtime, actor: actor, now: now) }
                try within(db, runtime)
                return runtime
            }
        }
        if let abandoned { Ending(context: context).tearDown(abandoned) }
        return admitted
    }

    /// A ledger that cannot answer cannot count live runtimes: the start is refused, never
    /// taken for "nothing is running".
    private func failClosed<T>(_ body: () throws(MCRunError) -> T) throws(MCRunError) -> T {
        do {
            return try body()
        } catch  where error.code == .internalError {
            throw MCRunError(
                .refused, "capacity_unknown", "start refused: the number of live runtimes cannot be determined (\(error.message)); nothing was started",
                cause: error)
        }
    }

    /// The shim tmux runs as a new pane's only process: `MCRUN_SHIM_BIN`, else `mcrun-shim`
    /// beside the mcrun binary.
    public static func shimBinary(environment: [String: String], executable: String) -> String {
        environment["MCRUN_SHIM_BIN"] ?? PaneHooks.parent(executable) + "/mcrun-shim"
    }

    /// Variables the pane sets for itself; every other variable is the recorded environment.
    static let fromPane = ["TMUX", "TMUX_PANE", "TERM"]

    /// The environment the agent starts with: the recorded one and its episode's variables;
    /// the shim adds the pane's own (`fromPane`).
    static func agentEnvironment(_ runtime: Runtime, stateDirectory: StateDirectory) -> [String] {
        var env = runtime.env
        for key in Self.fromPane { env[key] = nil }
        env["MCRUN_TICKET"] = runtime.ticket
        env["MCRUN_EPISODE"] = String(runtime.episode)
        env["MCRUN_NONCE"] = runtime.nonce
        env["MCRUN_RUNTIME_ID"] = String(runtime.id!)
        env["MCRUN_STATE_DIR"] = stateDirectory.path
        return env.map { "\($0.key)=\($0.value)" }.sorted()
    }

    /// Creates the session of an admitted runtime and returns once the agent's identity is
    /// recorded (used by `start` and by the service's relaunch). The shim in the pane connects
    /// to a socket this launcher listens on (see `LaunchHandshake`): the wait wakes on that
    /// connection, or on the shim's exit (a pidfd), never on a timer; the identity comes from
    /// the kernel's credentials of the peer and is recorded, with the session, in one
    /// transaction before the shim may exec the agent.
    public func launch(_ admitted: Runtime, timeoutMilliseconds: Int, startsTmuxServer: Bool = true) throws(MCRunError) -> Runtime {
        let runtimeID = admitted.id!
        let ending = Ending(context: context)
        let deadline = Instant.after(milliseconds: timeoutMilliseconds)
        let socketPath = context.stateDirectory.launchSocketPath(runtimeID: runtimeID)
        let listener: Int32
        switch LaunchSocket.listen(at: socketPath) {
        case .success(let fd): listener = fd
        case .failure(let error):
            let failed = try? ending.end(admitted, .launchFailed(reason: "launch_socket", detail: ["error": .string(error.description)]))
            throw MCRunError(
                .internalError, "launch_failed", "cannot listen at \(socketPath) for the shim of \(admitted.ticket): \(error)", runtime: failed?.runtime)
        }
        defer {
            close(listener)
            unlink(socketPath)
        }
        let shim = [Self.shimBinary(environment: context.environment, executable: context.executable), socketPath]
        guard access(shim[0], X_OK) == 0 else {
            let failed = try? ending.end(admitted, .launchFailed(reason: "shim_missing", detail: ["error": .string("\(shim[0]) is missing or not executable")]))
            throw MCRunError(
                .internalError, "launch_failed",
                "cannot start \(admitted.ticket): the launch shim \(shim[0]) is missing or not executable; install mcrun-shim beside mcrun, or set MCRUN_SHIM_BIN",
                runtime: failed?.runtime)
        }
        let created: TmuxServer.Created
        let paneLog = PaneHooks.logAttachment(context, runtimeID: runtimeID)
        var attach: [[String]] = []
        var paneLogMissing: String?
        switch paneLog {
        case .commands(let commands): attach = commands
        case .missing(let reason): paneLogMissing = reason
        }
        var tmux = context.tmux
        tmux.startsServer = startsTmuxServer
        do {
            try tmux.writeConfig()
            created = try tmux.newSession(name: admitted.sessionName, cwd: admitted.cwd, command: shim, then: attach)
        } catch {
            let down = !startsTmuxServer && TmuxServer.isNoServer("\(error)")
            let failed = try? ending.end(admitted, .launchFailed(reason: down ? "tmux_down" : "tmux_failed", detail: ["error": .string("\(error)")]))
            throw MCRunError(
                .internalError, "launch_failed", "could not create the tmux session for \(admitted.ticket): \(error)", runtime: failed?.runtime, cause: error)
        }
        /// Where a failed launch is recorded, the row names its session and pane for the teardown.
        func recordSession() {
            try? context.ledger.recordSession(runtimeID: runtimeID, sessionID: created.sessionID, paneID: created.paneID, paneLogMissing: paneLogMissing)
        }
        func current() throws(MCRunError) -> Runtime {
            guard let row = try context.ledger.read({ db in try Ledger.runtime(db, id: runtimeID) }) else {
                throw .internalError("runtime \(runtimeID) vanished from the ledger")
            }
            return row
        }
        guard let shimFD = Self.awaitShim(listener: listener, panePID: created.panePID, deadline: deadline) else {
            recordSession()
            let row = try current()
            guard row.state == .launching else { return try settle(row, created: created, ending: ending) }
            if deadline.hasPassed {
                return try failUnlessStarted(
                    row, reason: "launch_timeout", message: "the agent for \(row.ticket) did not report its identity within \(timeoutMilliseconds) ms")
            }
            return try failUnlessStarted(
                row, reason: "shim_exited",
                message: "the launch shim for \(row.ticket) exited before the agent started: \(context.tmux.capture(created.paneID)?.replacingNewlines() ?? "")"
            )
        }
        defer { close(shimFD) }
        LaunchSocket.setTimeout(shimFD, milliseconds: max(1, deadline.remainingMilliseconds))
        let plan = LaunchHandshake.Message.plan(
            cwd: admitted.cwd, argv: admitted.argv, environment: Self.agentEnvironment(admitted, stateDirectory: context.stateDirectory))
        let answer = LaunchHandshake.send(plan, on: shimFD) ? LaunchHandshake.receive(on: shimFD) : nil
        guard case .ready? = answer else {
            recordSession()
            if case .failed(let reason, let message)? = answer {
                let ended = try ending.end(admitted, .launchFailed(reason: reason, detail: ["error": .string(message)]))
                guard ended.applied else { return try settle(ended.runtime, created: created, ending: ending) }
                let screen = context.tmux.capture(created.paneID)
                let tornDown = ending.tearDown(ended.runtime, lastScreen: screen)
                throw MCRunError(
                    .internalError, "launch_failed", "the agent for \(admitted.ticket) did not start (\(reason)): \(message)", runtime: tornDown)
            }
            let row = try current()
            guard row.state == .launching else { return try settle(row, created: created, ending: ending) }
            return try failUnlessStarted(
                row, reason: "shim_exited",
                message:
                    "the launch shim for \(row.ticket) stopped answering before the agent started: \(context.tmux.capture(created.paneID)?.replacingNewlines() ?? "")"
            )
        }
        // The shim waits for `go`: its PID and start time are those the agent will have.
        let identity: AgentIdentity
        do { identity = try AgentIdentity.of(pid: created.panePID) } catch {
            recordSession()
            return try failUnlessStarted(
                try current(), reason: "no_identity", message: "the identity of the agent for \(admitted.ticket) cannot be read: \(error.message)")
        }
        // Before `go`: the shim into the runtime's cgroup, so the agent and all it starts are in it.
        let joined = joinCgroup(admitted, panePID: created.panePID)
        let recorded: (runtime: Runtime, applied: Bool)
        do {
            recorded = try context.ledger.applyIfCurrent(Transition.launched, to: runtimeID, actor: context.actor, data: ["pid": .int(Int64(identity.pid))]) {
                r in
                r.record(identity)
                r.startedAt = WallClock.now()
                r.sessionID = created.sessionID
                r.paneID = created.paneID
                r.paneLogMissing = paneLogMissing
                r.cgroup = joined.cgroup
                r.cgroupMissing = joined.missing
            }
        } catch {
            // Not recorded, so not started: the shim is refused and the launch fails (the
            // session is removed even when the ledger cannot take that either).
            _ = LaunchHandshake.send(.refused(message: "the agent's identity could not be recorded: \(error.message)"), on: shimFD)
            _ = joined.cgroup?.killAll(agentPID: created.panePID)
            recordSession()
            return try failUnlessStarted(
                admitted, reason: "ledger_unwritable", message: "the identity of the agent for \(admitted.ticket) could not be recorded: \(error.message)")
        }
        guard recorded.applied else {
            _ = LaunchHandshake.send(
                .refused(message: "runtime \(runtimeID) became \(recorded.runtime.state.rawValue) before the agent started; not starting it"), on: shimFD)
            _ = joined.cgroup?.killAll(agentPID: created.panePID)
            recordSession()
            return try settle(recorded.runtime, created: created, ending: ending)
        }
        _ = LaunchHandshake.send(.go, on: shimFD)
        // End-of-file: the exec closed the shim's end. A shim that cannot exec says why. The
        // exec is its next step, so its answer is waited for even when the launch's deadline
        // is nearly spent: a failed exec missed here would be recorded as the agent's death.
        LaunchSocket.setTimeout(shimFD, milliseconds: max(Self.execAnswerMilliseconds, deadline.remainingMilliseconds))
        guard case .execFailed(let reason)? = LaunchHandshake.receive(on: shimFD) else { return recorded.runtime }
        let ended = try ending.end(recorded.runtime, .execFailed(detail: ["error": .string(reason)]))
        let screen = context.tmux.capture(created.paneID)
        let tornDown = ended.applied ? ending.tearDown(ended.runtime, lastScreen: screen) : ended.runtime
        throw MCRunError(
            .internalError, "launch_failed", "the agent for \(admitted.ticket) did not start (exec_failed): cannot execute \(admitted.argv[0]): \(reason)",
            runtime: tornDown)
    }

    /// How long the shim's answer to `go` (its exec, or why it failed) is waited for at least.
    static let execAnswerMilliseconds = 5_000

    /// Waits for the pane's shim to connect, waking on the connection or on the shim's exit;
    /// nil when it exited first or the deadline passed. A connection from any other process
    /// than the pane's (the kernel's credentials say which) is closed and ignored.
    static func awaitShim(listener: Int32, panePID: Int32, deadline: Instant) -> Int32? {
        let exitFD = mcrun_pidfd_open(panePID, 0)
        defer { if exitFD >= 0 { close(exitFD) } }
        // Without pidfds (old kernels), the pane's process is looked at every 50 ms.
        let slice = exitFD >= 0 ? Int.max : 50
        while true {
            var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: exitFD, events: Int16(POLLIN), revents: 0)]
            let wait = min(max(0, deadline.remainingMilliseconds), slice)
            let ready = poll(&fds, exitFD >= 0 ? 2 : 1, Int32(clamping: wait))
            if ready < 0 && errno == EINTR { continue }
            if fds[0].revents & Int16(POLLIN) != 0 {
                let fd = LaunchSocket.accept(listener)
                if fd >= 0 {
                    if let peer = LaunchSocket.peer(fd), peer.pid == panePID, peer.uid == geteuid() { return fd }
                    close(fd)
                }
                continue
            }
            let exited = exitFD >= 0 ? fds[1].revents != 0 : (kill(panePID, 0) != 0 && errno == ESRCH)
            if exited || deadline.hasPassed { return nil }
        }
    }

    /// A launch that a stop or park took over: waits (bounded) for its end, removes the
    /// session (the stop's teardown may have come before it existed), and says what happened.
    private func settle(_ row: Runtime, created: TmuxServer.Created, ending: Ending) throws(MCRunError) -> Runtime {
        var current = row
        let deadline = Instant.after(milliseconds: 10_000)
        while current.state == .stopping && !deadline.hasPassed {
            // The stopper of a launch that has no agent yet ends it at once; this is rare.
            usleep(2_000)
            guard let row = try context.ledger.read({ db in try Ledger.runtime(db, id: current.id!) }) else { break }
            current = row
        }
        switch current.state {
        case .running:
            return current
        case .launchFailed:
            let screen = context.tmux.capture(created.paneID)
            let ended = ending.tearDown(current, lastScreen: screen)
            throw MCRunError(
                .internalError, "launch_failed", "the agent for \(current.ticket) did not start (\(current.endReason ?? current.state.rawValue))",
                runtime: ended)
        default:
            try? context.tmux.killSession(TmuxServer.exact(current.sessionName))
            let ticket = try context.ledger.read { db in try Ledger.ticket(db, id: current.ticket) }
            if let ticket, ticket.parked {
                throw MCRunError(
                    .refused, "ticket_parked",
                    "start refused: ticket \(current.ticket) was parked while its agent was starting; it did not run; unpark it with: mcrun unpark \(current.ticket)",
                    runtime: current)
            }
            throw MCRunError(
                .busy, "stopped_during_launch",
                "ticket \(current.ticket) was stopped (\(current.endReason ?? "requested")) while its agent was starting; see: mcrun show \(current.ticket)",
                runtime: current)
        }
    }

    /// Ends a launch that will not complete, through the ending path. If the shim won the
    /// race meanwhile, the agent did start: its runtime is returned, never reported as a failure.
    private func failUnlessStarted(_ runtime: Runtime, reason: String, message: String) throws(MCRunError) -> Runtime {
        let ended: Ending.Ended
        do {
            ended = try Ending(context: context).end(runtime, .launchFailed(reason: reason, detail: [:]))
        } catch {
            return try failUnrecorded(runtime, message: message, error: error)
        }
        if !ended.applied && ended.runtime.state == .running { return ended.runtime }
        throw MCRunError(.internalError, "launch_failed", message + "; the session was removed", runtime: ended.runtime)
    }

    /// The failed launch could not be recorded (the ledger locked past its timeout, or
    /// unwritable), and its shim may still be waiting to record the agent: an agent it
    /// started after this start reported failure would run unreported. A shim that has
    /// recorded already is a start; otherwise the session is removed first, so no agent can
    /// start once the failure is reported. The row stays `launching`, its launcher gone,
    /// and is ended by the next command that touches the ticket, or by `serve`.
    private func failUnrecorded(_ runtime: Runtime, message: String, error: MCRunError) throws(MCRunError) -> Runtime {
        func current() -> Runtime? { try? context.ledger.read { db in try Ledger.runtime(db, id: runtime.id!) } }
        if let now = current(), now.state == .running { return now }
        try? context.tmux.killSession(TmuxServer.exact(runtime.sessionName))
        throw MCRunError(
            .internalError, "launch_failed",
            message + "; the ledger could not record it (\(error.message)), so the session was removed and no agent runs; see: mcrun show \(runtime.ticket)",
            runtime: current() ?? runtime, cause: error)
    }

    static func checkDirectory(_ path: String) throws(MCRunError) {
        let mode = mcrun_file_mode(path)
        guard path.hasPrefix("/"), mode >= 0, UInt32(mode) & S_IFMT == S_IFDIR else {
            throw .badInput("bad_cwd", "working directory \(TicketID.printable(path)) does not exist or is not a directory")
        }
    }
}

extension String {
    func replacingNewlines() -> String {
        split(separator: "\n", omittingEmptySubsequences: true).joined(separator: " | ")
    }
}

/// PATH lookup as execvp does it, but against the agent's PATH rather than ours.
public enum Executable {
    public static func resolve(_ name: String, path: String?, cwd: String) -> String? {
        ProgramLookup.resolve(name, path: path, cwd: cwd)
    }
}
