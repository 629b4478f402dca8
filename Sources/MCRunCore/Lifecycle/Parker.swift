import GRDB

/// Parks a ticket: marks it parked and moves its live runtime to `stopping` in ONE write
/// transaction, so there is no instant at which a ticket meant to be parked can be started
/// or adopted (both check the flag in their own transactions), then ends the runtime the
/// way `stop` does and leaves the evidence: what was running, how it was stopped, what
/// was left over and killed.
public struct Parker: Sendable {
    public let context: MCRunContext

    public init(context: MCRunContext) { self.context = context }

    public struct Outcome: Sendable {
        public var ticket: Ticket
        /// The runtime that was stopped, as it ended; nil when nothing was running.
        public var stopped: Runtime?
        /// True when the ticket was parked already and nothing was running.
        public var alreadyParked: Bool
    }

    /// Parks the ticket and stops its live runtime. When the ledger cannot be written the
    /// agent is stopped all the same, the park is held in the state directory's reserve (start
    /// and adopt refuse the ticket) and the error is exit 8 (`park_unrecorded`).
    public func park(ticket: TicketID, reason: String?, options: Stopper.Options) throws(MCRunError) -> Outcome {
        do throws(MCRunError) {
            return try parkRecorded(ticket: ticket, reason: reason, options: options)
        } catch  where error.ledgerUnwritable {
            try Stopper(context: context).stopUnrecorded(ticket: ticket.rawValue, park: true, reason: reason ?? "parked", options: options, cause: error)
        }
    }

    private func parkRecorded(ticket: TicketID, reason: String?, options: Stopper.Options) throws(MCRunError) -> Outcome {
        let actor = context.actor
        let id = ticket.rawValue
        // An agent that died before the park is a death, recorded and counted as one.
        try Ending(context: context).reapIfGone(ticket: id)
        let (parked, requested, already) = try context.ledger.write { db -> (Ticket, Runtime?, Bool) in
            let now = WallClock.now()
            let before = try Ledger.liveRuntime(db, ticket: id)
            let wasParked = try Ledger.ensureTicket(db, id: id, now: now).parked
            let (requested, retryCancelled) = try Stopper.requestStop(
                db, ticket: id, reason: "parked", actor: actor, graceMilliseconds: options.graceMilliseconds)
            var running: JSONValue = .null
            if let before {
                running = [
                    "runtime_id": JSONValue(before.id), "episode": .int(Int64(before.episode)), "state": .string(before.state.rawValue),
                    "pid": JSONValue(before.pid.map { Int($0) }), "argv": JSONValue(before.argv), "owner": JSONValue(before.owner),
                    "alive": JSONValue(before.liveness().map { $0 == .alive }),
                ]
            }
            let data: JSONValue = ["running": running, "already_parked": .bool(wasParked), "retry_cancelled": .bool(retryCancelled)]
            let result = try TicketTransition.park(reason: reason).apply(db, ticket: id, actor: actor, data: data, runtime: requested, now: now)
            if !result.applied && (before != nil || retryCancelled) {
                // Parked already, yet something was still running or owed: the evidence is recorded all the same.
                try Ledger.appendEvent(db, kind: "park", ticket: id, runtime: requested, actor: actor, reason: reason, data: data, now: now)
            }
            return (result.ticket, requested, wasParked && before == nil)
        }
        guard let requested else { return Outcome(ticket: parked, stopped: nil, alreadyParked: already) }
        var stopOptions = options
        stopOptions.reason = "parked"
        let ended = try Stopper(context: context).finish(requested, options: stopOptions, parked: true)
        return Outcome(ticket: parked, stopped: ended, alreadyParked: false)
    }

    /// Clears the parked flag; the ticket can be started again. Unparking a ticket that is
    /// not parked changes nothing.
    public func unpark(ticket: TicketID, reason: String?) throws(MCRunError) -> (ticket: Ticket, changed: Bool) {
        let actor = context.actor
        let id = ticket.rawValue
        return try context.ledger.write { db in
            guard try Ledger.ticket(db, id: id) != nil else {
                throw MCRunError(.notFound, "no_ticket", "ticket \(id) is not known; see: mcrun ps --all")
            }
            let result = try TicketTransition.unpark.apply(db, ticket: id, actor: actor, reason: reason)
            return (result.ticket, result.applied)
        }
    }
}
