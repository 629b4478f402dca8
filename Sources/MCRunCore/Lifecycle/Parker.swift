public import GRDB

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

    public func park(ticket: TicketID, reason: String?, options: Stopper.Options) throws(MCRunError) -> Outcome {
        let actor = context.actor
        let id = ticket.rawValue
        let (parked, requested, already) = try context.ledger.write { db -> (Ticket, Runtime?, Bool) in
            let now = WallClock.now()
            var t = try Ledger.ensureTicket(db, id: id, now: now)
            let wasParked = t.parked
            let before = try Ledger.liveRuntime(db, ticket: id)
            if !wasParked {
                t.parked = true
                t.parkedReason = reason
                t.parkedAt = now
                t.updatedAt = now
                try t.update(db)
            }
            let (requested, retryCancelled) = try Stopper.requestStop(
                db, ticket: id, reason: "parked", actor: actor, graceMilliseconds: options.graceMilliseconds)
            if !wasParked || before != nil || retryCancelled {
                var running: JSONValue = .null
                if let before {
                    running = [
                        "runtime_id": JSONValue(before.id), "episode": .int(Int64(before.episode)), "state": .string(before.state.rawValue),
                        "pid": JSONValue(before.pid.map { Int($0) }), "argv": JSONValue(before.argv), "owner": JSONValue(before.owner),
                        "alive": JSONValue(before.liveness().map { $0 == .alive }),
                    ]
                }
                try Ledger.appendEvent(
                    db, kind: "park", ticket: id, runtime: requested, actor: actor, reason: reason,
                    data: ["running": running, "already_parked": .bool(wasParked), "retry_cancelled": .bool(retryCancelled)], now: now)
            }
            return (t, requested, wasParked && before == nil)
        }
        guard let requested else { return Outcome(ticket: parked, stopped: nil, alreadyParked: already) }
        var stopOptions = options
        stopOptions.reason = "parked"
        let ended = try Stopper(context: context).finish(requested, options: stopOptions, endEvent: .parkStopped)
        return Outcome(ticket: parked, stopped: ended, alreadyParked: false)
    }

    /// Clears the parked flag; the ticket can be started again. Unparking a ticket that is
    /// not parked changes nothing.
    public func unpark(ticket: TicketID, reason: String?) throws(MCRunError) -> (ticket: Ticket, changed: Bool) {
        let actor = context.actor
        let id = ticket.rawValue
        return try context.ledger.write { db in
            guard var t = try Ledger.ticket(db, id: id) else {
                throw MCRunError(.notFound, "no_ticket", "ticket \(id) is not known; see: mcrun ps --all")
            }
            guard t.parked else { return (t, false) }
            let now = WallClock.now()
            let previous = t.parkedReason
            t.parked = false
            t.parkedReason = nil
            t.parkedAt = nil
            t.updatedAt = now
            try t.update(db)
            try Ledger.appendEvent(db, kind: "unpark", ticket: id, actor: actor, reason: reason, data: ["parked_reason": JSONValue(previous)], now: now)
            return (t, true)
        }
    }
}

/// The host-wide kill switch: while on, nothing starts, is adopted, receives input or is
/// relaunched. Observing and stopping keep working.
public enum KillSwitch {
    public struct State: Sendable, Equatable {
        public var on: Bool
        public var reason: String?
        public var since: Double?
    }

    public static func state(_ db: Database) throws -> State {
        guard let row = try Row.fetchOne(db, sql: "SELECT value, updated_at FROM settings WHERE key = ?", arguments: [Setting.killswitch.rawValue]) else {
            return State(on: false, reason: nil, since: nil)
        }
        return State(on: true, reason: row["value"], since: row["updated_at"])
    }

    /// Turns the switch on or off; returns the new state and whether it changed.
    public static func set(_ on: Bool, reason: String?, ledger: Ledger, actor: String) throws(MCRunError) -> (State, Bool) {
        try ledger.write { db in
            let before = try state(db)
            guard before.on != on else { return (before, false) }
            let now = WallClock.now()
            try Ledger.setSetting(db, .killswitch, on ? (reason ?? "no reason given") : nil, now: now)
            try Ledger.appendEvent(db, kind: "killswitch", actor: actor, reason: reason, data: ["on": .bool(on)], now: now)
            return (try state(db), true)
        }
    }
}
