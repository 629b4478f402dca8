import Glibc

/// What the ending path reads while the session still holds the dead pane: the agent's
/// exit status and its last screen. Read before the end is recorded, so the record has them.
public struct EndFacts: Sendable, Equatable {
    public var exitCode: Int?
    public var exitSignal: Int?
    public var lastScreen: String?
    /// What the runtime's cgroup says it used, read while it still exists: its OOM kills
    /// make out of memory the recorded cause.
    public var usage: ResourceUsage?

    public init(exitCode: Int? = nil, exitSignal: Int? = nil, lastScreen: String? = nil, usage: ResourceUsage? = nil) {
        self.exitCode = exitCode
        self.exitSignal = exitSignal
        self.lastScreen = lastScreen
        self.usage = usage
    }

    var hasStatus: Bool { exitCode != nil || exitSignal != nil }

    public var data: JSONValue {
        var data: JSONValue = ["exit_code": JSONValue(exitCode), "exit_signal": JSONValue(exitSignal)]
        if let kills = usage?.oomKills, kills > 0 { data = data.merging(["oom_kills": .int(Int64(kills))]) }
        return data
    }

    func apply(to runtime: inout Runtime) {
        if hasStatus {
            runtime.exitCode = exitCode
            runtime.exitSignal = exitSignal
        }
        if let lastScreen { runtime.lastScreen = lastScreen }
        if let usage { runtime.usage = usage }
    }
}

/// What is cleared away after the end is recorded: the agent's leftover processes, its
/// session, and the pane log's last lines once its writer has flushed.
public struct TeardownReport: Sendable, Equatable {
    public var leftoversKilled: Int
    /// The session was left because its pane runs a process that is not the agent.
    public var sessionKept = false
    public var transcriptTail: String?
    /// How leftovers were found: `cgroup` (killed with the runtime's cgroup) or `proc`
    /// (the /proc search, for a runtime without a cgroup).
    public var leftoversBy = "proc"
    /// The runtime's cgroup was still populated when the bounded wait ran out.
    public var cgroupNotEmpty = false
    /// The cgroup's usage just before it was killed.
    public var usage: ResourceUsage?

    public var data: JSONValue {
        var data: JSONValue = ["leftovers_killed": .int(Int64(leftoversKilled)), "session_kept": .bool(sessionKept), "leftovers_by": .string(leftoversBy)]
        if cgroupNotEmpty { data = data.merging(["cgroup_not_empty": true]) }
        return data
    }
}

extension MCRunContext {
    /// The pane of a runtime: by id when recorded, else by its session's exact name.
    public func pane(of runtime: Runtime) -> TmuxServer.Pane? {
        if let paneID = runtime.paneID, let pane = try? tmux.pane(paneID), pane.sessionName == runtime.sessionName {
            return pane
        }
        return (try? tmux.snapshot())?.pane(sessionName: runtime.sessionName)
    }

    /// The exit status and last screen of each runtime whose agent is gone, with one tmux
    /// snapshot and one capture call for all of them. `handles` (held from before the agent
    /// exited) give the kernel's record of the exit status; tmux's, which 3.3 sometimes
    /// loses, is the fallback. `waitMilliseconds` bounds the wait for statuses not known
    /// yet (tmux learns them from SIGCHLD, after the pty's EOF or before it). The record of
    /// an end waits briefly and reads no screen (under a burst of deaths tmux is slow to
    /// answer); the teardown that follows reads what is missing, before the session goes.
    func endFacts(_ runtimes: [Runtime], handles: [Int64: ProcessHandle], waitMilliseconds: Int, screens: Bool) -> [Int64: EndFacts] {
        var facts: [Int64: EndFacts] = [:]
        for runtime in runtimes { if let id = runtime.id { facts[id] = EndFacts(usage: runtime.cgroup?.usage()) } }
        let deadline = Instant.after(milliseconds: waitMilliseconds)
        // The kernel's status comes once tmux has reaped the agent, usually within a few
        // milliseconds; a zombie it missed is nudged.
        while true {
            var missing = false
            for (id, handle) in handles where facts[id]?.hasStatus == false && handle.hasExited {
                if let status = handle.exitStatus(timeoutMilliseconds: 0) {
                    facts[id]?.exitCode = status.code
                    facts[id]?.exitSignal = status.signal
                } else {
                    Reaping.nudgeParent(of: handle.identity)
                    missing = true
                }
            }
            guard missing, !deadline.hasPassed else { break }
            usleep(1_000)
        }
        // Without screens to read, tmux is asked only about agents nobody held a handle on:
        // under a burst of deaths it is slow to answer, and the teardown asks again anyway.
        let askTmux = screens || runtimes.contains { $0.id.map { handles[$0] == nil && facts[$0]?.hasStatus == false } ?? false }
        guard askTmux, var snapshot = try? tmux.snapshot() else { return facts }
        while true {
            var waiting = false
            for runtime in runtimes {
                guard let id = runtime.id, facts[id]?.hasStatus == false, let pane = snapshot.pane(of: runtime) else { continue }
                if pane.hasExitStatus {
                    facts[id]?.exitCode = pane.deadSignal == nil ? pane.deadStatus : nil
                    facts[id]?.exitSignal = pane.deadSignal
                } else if runtime.identity.map({ $0.liveness() != .alive }) ?? true {
                    if let identity = runtime.identity { Reaping.nudgeParent(of: identity) }
                    waiting = true
                }
            }
            guard waiting, !deadline.hasPassed, let again = try? tmux.snapshot() else { break }
            usleep(5_000)
            snapshot = again
        }
        guard screens else { return facts }
        let panes = runtimes.compactMap { runtime in runtime.id.flatMap { id in snapshot.pane(of: runtime).map { (id, $0.paneID) } } }
        let screens = tmux.captureAll(panes.map(\.1))
        for (id, paneID) in panes { facts[id]?.lastScreen = screens[paneID] }
        return facts
    }

    /// Kills what the agent left behind and removes its session, then reads the clean pane
    /// log's last lines (its writer flushes when the session goes).
    func clearAway(_ runtime: Runtime, excluding: Set<Int32> = []) -> TeardownReport {
        var report = TeardownReport(leftoversKilled: 0)
        if let cgroup = runtime.cgroup {
            // Exact: everything the agent started is in its cgroup; no process is searched for.
            report.usage = cgroup.usage()
            let cleared = cgroup.killAll(agentPID: runtime.pid)
            report.leftoversKilled = cleared.killed
            report.leftoversBy = "cgroup"
            report.cgroupNotEmpty = !cleared.empty
        } else {
            report.leftoversKilled = Leftovers.kill(agent: runtime.identity, nonce: runtime.nonce, excluding: excluding)
        }
        // Closing a session hangs up its pane's process. If that process holds the agent's
        // PID under another start time, it is not the agent: leave it and its session alone.
        if let identity = runtime.identity, identity.liveness() == .recycled,
            let pane = pane(of: runtime), !pane.dead, pane.panePID == identity.pid
        {
            report.sessionKept = true
        } else {
            // By exact name, never by `$N`: tmux numbers sessions anew after a server restart,
            // so a recorded id may name another ticket's session; `TICKET@EPISODE` cannot.
            try? tmux.killSession(TmuxServer.exact(runtime.sessionName))
        }
        if let id = runtime.id {
            let log = stateDirectory.paneLogPath(runtimeID: id)
            PaneLog.awaitWriters(log, timeoutMilliseconds: 2_000)
            let lines = PaneLog.tail(log, lines: PaneLog.defaultTailLines)
            if !lines.isEmpty { report.transcriptTail = lines.joined(separator: "\n") }
        }
        return report
    }
}
