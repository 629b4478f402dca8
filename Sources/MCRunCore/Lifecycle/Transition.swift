import GRDB

/// The one place that changes a runtime's state. It names the states it may come from
/// (compare-and-set inside the write transaction) and writes the event in the same
/// transaction, so the ledger never holds a change without its event or the reverse.
public struct Transition: Sendable {
    public var from: Set<RuntimeState>
    public var to: RuntimeState
    public var event: String

    /// Only the table below builds transitions.
    init(from: Set<RuntimeState>, to: RuntimeState, event: String) {
        self.from = from
        self.to = to
        self.event = event
    }

    // The lifecycle, in one table.
    public static let launched = Transition(from: [.launching], to: .running, event: "start")
    public static let launchFailed = Transition(from: [.launching], to: .launchFailed, event: "launch_failed")
    public static let stopRequested = Transition(from: [.launching, .running], to: .stopping, event: "stopping")
    public static let stopped = Transition(from: [.launching, .stopping], to: .stopped, event: "stop")
    /// The end of a runtime stopped by `park`: its own event, so the evidence says why.
    public static let parkStopped = Transition(from: [.launching, .stopping], to: .stopped, event: "park_stop")
    /// A stop or park of a runtime whose DONE was accepted: its work was finished, so it ends
    /// completed (no signal is accepted once it is stopping).
    public static let stoppedAfterDone = Transition(from: [.launching, .stopping], to: .completed, event: "stop")
    public static let parkStoppedAfterDone = Transition(from: [.launching, .stopping], to: .completed, event: "park_stop")
    public static let died = Transition(from: [.running], to: .dead, event: "death")
    /// The agent exited after its DONE was accepted; the `completion` event was written
    /// when the signal was accepted, so this one is the exit.
    public static let completed = Transition(from: [.running], to: .completed, event: "exit")
    /// Adopt normalises a live runtime in place; it never moves one backwards.
    public static let adopted = Transition(from: [.running], to: .running, event: "adopt")
    /// A reconcile pass found the agent of a runtime recorded dead still alive in its pane.
    public static let healed = Transition(from: [.dead], to: .running, event: "healed")
    /// The agent went away with mcrun's tmux server: a host incident, not a death of the
    /// ticket (no count, no escalation); a relaunch is owed for when the server is back.
    public static let lostWithTmux = Transition(from: [.running], to: .dead, event: "host_lost")
    /// The exec after a recorded identity failed: the process is the shim, about to exit.
    public static let execFailed = Transition(from: [.running], to: .launchFailed, event: "launch_failed")

    /// The state was not one of `from`: someone else moved the runtime first.
    public struct Refused: Error, Sendable {
        public var current: Runtime
    }

    /// Applies the transition inside `db`'s open write transaction. `update` fills the
    /// columns that go with the change (identity, end reason, exit status...).
    @discardableResult
    func apply(
        _ db: Database, runtimeID: Int64, actor: String, reason: String? = nil, data: JSONValue = [:],
        now: Double = WallClock.now(), update: (inout Runtime) -> Void = { _ in }
    ) throws -> Runtime {
        guard var runtime = try Ledger.runtime(db, id: runtimeID) else {
            throw MCRunError(.notFound, "no_runtime", "runtime \(runtimeID) does not exist")
        }
        guard from.contains(runtime.state) else { throw Refused(current: runtime) }
        let previous = runtime.state
        runtime.state = to
        runtime.updatedAt = now
        if RuntimeState.ended.contains(to) && runtime.endedAt == nil {
            runtime.endedAt = now
            if runtime.endReason == nil { runtime.endReason = reason }
        }
        update(&runtime)
        if RuntimeState.ended.contains(to) {
            // Every end is recorded before its teardown; the mark is cleared by the ending
            // path once leftovers and the session are gone, so a crash in between loses nothing.
            if !previous.isEnded { runtime.teardownOwed = true }
            // Every end passes here: the record is made once, from the facts of the end.
            runtime.terminalRecord = TerminalRecord.derive(runtime, ticket: try Ledger.ticket(db, id: runtime.ticket))
        }
        try Ledger.updateRuntime(db, runtime)
        try Ledger.appendEvent(
            db, kind: event, runtime: runtime, from: previous, actor: actor, reason: reason, data: data, now: now)
        return runtime
    }
}

extension Ledger {
    /// Applies `transition` in its own write transaction.
    @discardableResult
    public func apply(
        _ transition: Transition, to runtimeID: Int64, actor: String, reason: String? = nil, data: JSONValue = [:],
        update: @escaping (inout Runtime) -> Void = { _ in }
    ) throws(MCRunError) -> Runtime {
        try write { db in
            try transition.apply(db, runtimeID: runtimeID, actor: actor, reason: reason, data: data, update: update)
        }
    }

    /// Like `apply`, but a refusal returns the runtime as it now is instead of throwing.
    public func applyIfCurrent(
        _ transition: Transition, to runtimeID: Int64, actor: String, reason: String? = nil, data: JSONValue = [:],
        update: @escaping (inout Runtime) -> Void = { _ in }
    ) throws(MCRunError) -> (runtime: Runtime, applied: Bool) {
        try write { db in
            do {
                let r = try transition.apply(db, runtimeID: runtimeID, actor: actor, reason: reason, data: data, update: update)
                return (r, true)
            } catch let refused as Transition.Refused {
                return (refused.current, false)
            }
        }
    }
}
