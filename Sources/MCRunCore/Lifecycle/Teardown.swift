import Glibc

/// What is left to do once an agent is gone, whether it was stopped or died: read its exit
/// status while tmux still holds the dead pane, keep its last screen, kill its leftover
/// processes, remove the session. Stop, park and the reaper all end a runtime through here.
public struct TeardownReport: Sendable, Equatable {
    public var exitCode: Int?
    public var exitSignal: Int?
    public var lastScreen: String?
    public var leftoversKilled: Int
    /// The session was left because its pane runs a process that is not the agent.
    public var sessionKept = false
    /// The clean pane log's last lines, read once the pane-log hook has flushed.
    public var transcriptTail: String?

    public var data: JSONValue {
        [
            "exit_code": JSONValue(exitCode), "exit_signal": JSONValue(exitSignal),
            "leftovers_killed": .int(Int64(leftoversKilled)), "session_kept": .bool(sessionKept),
        ]
    }

    public func apply(to runtime: inout Runtime) {
        if exitCode != nil || exitSignal != nil {
            runtime.exitCode = exitCode
            runtime.exitSignal = exitSignal
        }
        if let lastScreen { runtime.lastScreen = lastScreen }
        runtime.leftoversKilled = (runtime.leftoversKilled ?? 0) + leftoversKilled
        if let transcriptTail { runtime.transcriptTail = transcriptTail }
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

    /// `handle`, when the caller holds one from before the agent exited, gives the kernel's
    /// record of the exit status; tmux's (which 3.3 sometimes loses) is the fallback.
    public func teardown(_ runtime: Runtime, handle: ProcessHandle? = nil, excluding: Set<Int32> = []) -> TeardownReport {
        var report = TeardownReport(leftoversKilled: 0)
        if let handle, handle.hasExited, let status = handle.exitStatus(timeoutMilliseconds: 1_000) {
            report.exitCode = status.code
            report.exitSignal = status.signal
        }
        if var pane = pane(of: runtime) {
            if report.exitCode == nil && report.exitSignal == nil {
                // tmux closes the pane on the pty's EOF and learns the status from SIGCHLD,
                // in either order; wait briefly for the status once the agent is gone.
                let deadline = Monotonic.now() + 300_000_000
                while !pane.hasExitStatus, runtime.identity.map({ $0.liveness() != .alive }) ?? true, Monotonic.now() < deadline {
                    if let identity = runtime.identity { Reaping.nudgeParent(of: identity) }
                    usleep(5_000)
                    guard let again = try? tmux.pane(pane.paneID) else { break }
                    pane = again
                }
                if pane.hasExitStatus {
                    report.exitCode = pane.deadSignal == nil ? pane.deadStatus : nil
                    report.exitSignal = pane.deadSignal
                }
            }
            report.lastScreen = tmux.capture(pane.paneID)
        }
        report.leftoversKilled = Leftovers.kill(agent: runtime.identity, nonce: runtime.nonce, excluding: excluding)
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
            // The hook sees EOF when the session goes and writes its last pending line then.
            let log = stateDirectory.paneLogPath(runtimeID: id)
            PaneLog.awaitWriters(log, timeoutMilliseconds: 2_000)
            let lines = PaneLog.tail(log, lines: PaneLog.defaultTailLines)
            if !lines.isEmpty { report.transcriptTail = lines.joined(separator: "\n") }
        }
        return report
    }
}
