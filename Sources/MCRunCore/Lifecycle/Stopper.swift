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

    /// Stops the ticket's live runtime. When the ledger cannot be written the agent is
    /// stopped all the same and the error is exit 8 (`stop_unrecorded`), saying what the
    /// ledger lacks (see UnrecordedStop.swift).
    public func stop(ticket: TicketID, options: Options) throws(MCRunError) -> Outcome {
        do throws(MCRunError) {
            return try stopRecorded(ticket: ticket, options: options)
        } catch  where error.ledgerUnwritable {
            try stopUnrecorded(ticket: ticket.rawValue, park: false, reason: options.reason, options: options, cause: error)
        }
    }

    private func stopRecorded(ticket: TicketID, options: Options) throws(MCRunError) -> Outcome {
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
        var termination = Termination()
        let handle = runtime.identity.flatMap(ProcessHandle.open)
        if handle == nil, let identity = runtime.identity, [.alive, .unknown].contains(identity.liveness()) {
            // No handle, yet the agent may be running (no descriptors left, /proc unreadable):
            // never record a stop that did not happen. The runtime stays `stopping`.
            throw MCRunError(
                .internalError, "cannot_signal",
                "cannot get a handle on the agent of \(runtime.ticket) (pid \(identity.pid)), which may still be running; it stays stopping: retry the stop",
                runtime: runtime)
        }
        if let handle { termination = Self.terminate(handle, runtime: runtime, options: options, tmux: context.tmux) }
        let detail: JSONValue = [
            "signalled": .bool(termination.signalled), "killed": .bool(termination.forced), "grace_ms": .int(Int64(options.graceMilliseconds)),
        ]
        do throws(MCRunError) {
            return try Ending(context: context).end(runtime, .stop(reason: options.reason, parked: parked, detail: detail), handle: handle).runtime
        } catch  where error.ledgerUnwritable {
            // The runtime stays `stopping` (and a park's flag is already recorded): whoever
            // takes over an abandoned stop records its end as this stop, never as a death.
            let leftovers = Leftovers.kill(of: runtime)
            throw MCRunError(
                .unrecorded, parked ? "park_unrecorded" : "stop_unrecorded",
                "\(parked ? "parked" : "stopped") \(runtime.ticket) episode \(runtime.episode) (agent \(termination.describe(grace: options.graceMilliseconds)); leftovers killed: \(leftovers)), but the ledger could not record its end (\(error.message)); it stays stopping and serve, or the next stop of \(runtime.ticket), records it as a \(parked ? "park" : "stop")",
                runtime: runtime)
        }
    }
}
