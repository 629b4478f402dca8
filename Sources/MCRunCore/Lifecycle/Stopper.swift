import GRDB
import Glibc

/// Ends runtimes on request: SIGTERM (or an interrupt key) to the agent through its pidfd,
/// a grace period, SIGKILL, then the common teardown. Split in two phases so `park` can
/// mark the ticket parked in the same transaction that moves the runtime to `stopping`.
public struct Stopper: Sendable {
    public let context: MCRunContext

    public init(context: MCRunContext) { self.context = context }

    public struct Options: Sendable {
        public var reason: String
        public var graceMilliseconds: Int
        public var signal: Int32
        /// A tmux key (e.g. `C-c`) sent before the signal, for agents that exit on it.
        public var interruptKey: String?

        public init(reason: String = "requested", graceMilliseconds: Int = 10_000, signal: Int32 = 15, interruptKey: String? = nil) {
            self.reason = reason
            self.graceMilliseconds = graceMilliseconds
            self.signal = signal
            self.interruptKey = interruptKey
        }
    }

    public struct Outcome: Sendable {
        public var runtime: Runtime
        /// True when the runtime had already ended: no runtime was changed by the stop.
        public var alreadyEnded: Bool
        /// A relaunch owed for an earlier death was cancelled: stop means stopped.
        public var retryCancelled = false
        /// The agent had died before the stop reached it: its death was recorded (and
        /// counted), not a stop.
        public var diedFirst = false
    }

    /// Phase one, inside a write transaction: moves the ticket's live runtime to `stopping`
    /// (a runtime already stopping is taken over, so a stop killed half-way can be resumed).
    ///
    /// A stop also means "do not relaunch": a retry still owed for an earlier death is
    /// dropped in the same transaction. The stopper records itself and its deadline, so
    /// the service takes the stop over only if this process dies or overruns.
    static func requestStop(
        _ db: Database, ticket: String, reason: String, actor: String, graceMilliseconds: Int
    ) throws -> (runtime: Runtime?, retryCancelled: Bool) {
        let retryCancelled = try Ledger.cancelRetry(db, ticket: ticket)
        if retryCancelled {
            try Ledger.appendEvent(db, kind: "retry_cancelled", ticket: ticket, actor: actor, reason: reason)
        }
        guard let live = try Ledger.liveRuntime(db, ticket: ticket) else { return (nil, retryCancelled) }
        let me = try AgentIdentity.current()
        // Signal, grace, SIGKILL, leftovers and teardown: generous slack past the grace.
        let deadline = WallClock.now() + Double(graceMilliseconds) / 1000 + 30
        let mark: (inout Runtime) -> Void = { r in
            r.stopperPID = me.pid
            r.stopperStartTime = Int64(me.startTime)
            r.stopDeadline = deadline
        }
        if live.state == .stopping {
            var resumed = live
            mark(&resumed)
            try Ledger.updateRuntime(db, resumed)
            return (resumed, retryCancelled)
        }
        return (try Transition.stopRequested.apply(db, runtimeID: live.id!, actor: actor, reason: reason, update: mark), retryCancelled)
    }

    public func stop(ticket: TicketID, options: Options) throws(MCRunError) -> Outcome {
        let actor = context.actor
        // An agent that died before the stop is a death, recorded and counted as one.
        let died = try Ending(context: context).reapIfGone(ticket: ticket.rawValue)
        let (requested, retryCancelled) = try context.ledger.write { db in
            try Stopper.requestStop(db, ticket: ticket.rawValue, reason: options.reason, actor: actor, graceMilliseconds: options.graceMilliseconds)
        }
        guard let requested else {
            let latest = try context.ledger.read { db in try Ledger.latestRuntime(db, ticket: ticket.rawValue) }
            guard let latest else {
                throw MCRunError(.notFound, "no_runtime", "ticket \(ticket) has no runtime; see: mcrun ps --all")
            }
            return Outcome(runtime: latest, alreadyEnded: true, retryCancelled: retryCancelled, diedFirst: died?.runtime.state == .dead)
        }
        return Outcome(runtime: try finish(requested, options: options, parked: false), alreadyEnded: false, retryCancelled: retryCancelled)
    }

    /// Phase two: make sure the agent is gone, then end the runtime through the ending path
    /// (which records the end, then kills leftovers and removes the session).
    public func finish(_ runtime: Runtime, options: Options, parked: Bool) throws(MCRunError) -> Runtime {
        var signalled = false
        var forced = false
        let handle = runtime.identity.flatMap(ProcessHandle.open)
        if handle == nil, let identity = runtime.identity, [.alive, .unknown].contains(identity.liveness()) {
            // No handle, yet the agent may be running (no descriptors left, /proc unreadable):
            // never record a stop that did not happen. The runtime stays `stopping`.
            throw MCRunError(
                .internalError, "cannot_signal",
                "cannot get a handle on the agent of \(runtime.ticket) (pid \(identity.pid)), which may still be running; it stays stopping: retry the stop",
                runtime: runtime)
        }
        if let handle {
            if let key = options.interruptKey, let pane = runtime.paneID {
                try? context.tmux.sendKey(key, to: pane)
                if handle.waitForExit(timeoutMilliseconds: options.graceMilliseconds / 2) == false {
                    signalled = handle.signal(options.signal)
                }
            } else {
                signalled = handle.signal(options.signal)
            }
            if !handle.waitForExit(timeoutMilliseconds: options.graceMilliseconds) {
                forced = handle.signal(SIGKILL)
                _ = handle.waitForExit(timeoutMilliseconds: 5_000)
            }
        }
        let detail: JSONValue = ["signalled": .bool(signalled), "killed": .bool(forced), "grace_ms": .int(Int64(options.graceMilliseconds))]
        return try Ending(context: context).end(runtime, .stop(reason: options.reason, parked: parked, detail: detail), handle: handle).runtime
    }
}
