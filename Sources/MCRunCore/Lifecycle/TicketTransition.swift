import GRDB

/// The one table of changes to a ticket's standing (parked, death count, escalation). Each
/// names the standings it may come from and is applied inside the caller's write
/// transaction with its event; nothing else writes a ticket row. A change that is not
/// allowed from the ticket's standing is not applied (`applied` false) and writes nothing.
public enum TicketTransition: Sendable {
    /// From not parked. Event `park` (the caller's data says what was running).
    case park(reason: String?)
    /// From parked. Event `unpark`.
    case unpark
    /// An unexpected death of `runtime`, already moved to `dead` in this transaction: counted,
    /// then a relaunch is owed or the ticket escalates, per `policy`. From any standing; the
    /// runtime's `death` event records it, an escalation writes `escalation`.
    case death(runtime: Runtime, policy: DeathPolicy)
    /// From not escalated. Event `escalation`.
    case escalate(reason: String, runtime: Runtime?)
    /// An operator clears the count, the escalation and any relaunch owed. From any standing. Event `reset`.
    case reset
    /// An accepted DONE: the count starts again, the escalation is cleared, no relaunch is
    /// owed. From any standing; the `completion` event records it.
    case completion
    /// A death recorded in error (the agent was found alive) is taken back, and the
    /// escalation it caused with it. From a standing with a death counted; the runtime's
    /// `healed` event records it.
    case deathTakenBack(maxSilentRetries: Int)
    /// A death counted before the host breaker opened and blamed on the host when it did:
    /// the count is taken back, and the escalation it caused with it; a relaunch owed stays
    /// owed (held by the breaker). From a standing with a death counted; the `host_incident`
    /// event lists the tickets.
    case deathBlamedOnHost(maxSilentRetries: Int)

    public struct DeathRecord: Sendable, Equatable {
        public var deaths: Int
        public var decision: DeathPolicy.Decision
        /// True when this death escalated the ticket (false if it already was).
        public var escalatedNow: Bool
    }

    public struct Result: Sendable {
        public var ticket: Ticket
        public var applied: Bool
        public var death: DeathRecord?
        /// What `reset` cleared.
        public var previousDeaths = 0
        public var wasEscalated = false
        public var retryCancelled = false
    }

    /// Whether the transition may be applied to a ticket in this standing.
    public func allows(_ ticket: Ticket) -> Bool {
        switch self {
        case .park: !ticket.parked
        case .unpark: ticket.parked
        case .escalate: !ticket.escalated
        case .deathTakenBack, .deathBlamedOnHost: ticket.deaths > 0 || ticket.escalated
        case .death, .reset, .completion: true
        }
    }

    @discardableResult
    func apply(
        _ db: Database, ticket id: String, actor: String, reason: String? = nil, data: JSONValue = [:],
        runtime eventRuntime: Runtime? = nil, now: Double = WallClock.now()
    ) throws -> Result {
        var ticket = try Ledger.ensureTicket(db, id: id, now: now)
        guard allows(ticket) else { return Result(ticket: ticket, applied: false) }
        var result = Result(ticket: ticket, applied: true)
        switch self {
        case .park(let parkReason):
            ticket.parked = true
            ticket.parkedReason = parkReason
            ticket.parkedAt = now
            try save(db, &ticket, now)
            try Ledger.appendEvent(db, kind: "park", ticket: id, runtime: eventRuntime, actor: actor, reason: reason ?? parkReason, data: data, now: now)
        case .unpark:
            let previous = ticket.parkedReason
            ticket.parked = false
            ticket.parkedReason = nil
            ticket.parkedAt = nil
            try save(db, &ticket, now)
            var fields = data.objectValue ?? [:]
            fields["parked_reason"] = JSONValue(previous)
            try Ledger.appendEvent(db, kind: "unpark", ticket: id, actor: actor, reason: reason, data: .object(fields), now: now)
        case .death(let runtime, let policy):
            ticket.deaths += 1
            let decision = policy.decide(deaths: ticket.deaths, now: now)
            var escalatedNow = false
            switch decision {
            case .retry(let dueAt):
                try Ledger.oweRetry(db, PendingRetry(ticket: id, runtimeID: runtime.id!, dueAt: dueAt, createdAt: now))
            case .escalate:
                try Ledger.cancelRetry(db, ticket: id)
                if !ticket.escalated {
                    escalatedNow = true
                    ticket.escalated = true
                    ticket.escalatedAt = now
                    ticket.escalatedReason =
                        "died \(ticket.deaths) times without completing (\(policy.maxSilentRetries) silent \(policy.maxSilentRetries == 1 ? "retry" : "retries") allowed); last: episode \(runtime.episode), \(Self.exitDescription(runtime))"
                }
            }
            try save(db, &ticket, now)
            if escalatedNow {
                try Ledger.appendEvent(
                    db, kind: "escalation", runtime: runtime, actor: actor, reason: ticket.escalatedReason,
                    data: ["deaths": .int(Int64(ticket.deaths)), "max_silent_retries": .int(Int64(policy.maxSilentRetries))], now: now)
            }
            result.death = DeathRecord(deaths: ticket.deaths, decision: decision, escalatedNow: escalatedNow)
        case .escalate(let why, let runtime):
            try Ledger.cancelRetry(db, ticket: id)
            ticket.escalated = true
            ticket.escalatedAt = now
            ticket.escalatedReason = why
            try save(db, &ticket, now)
            var fields = data.objectValue ?? [:]
            fields["deaths"] = .int(Int64(ticket.deaths))
            try Ledger.appendEvent(db, kind: "escalation", ticket: id, runtime: runtime, actor: actor, reason: why, data: .object(fields), now: now)
        case .reset:
            result.previousDeaths = ticket.deaths
            result.wasEscalated = ticket.escalated
            result.retryCancelled = try Ledger.cancelRetry(db, ticket: id)
            Self.clearStanding(&ticket)
            try save(db, &ticket, now)
            try Ledger.appendEvent(
                db, kind: "reset", ticket: id, actor: actor, reason: reason,
                data: [
                    "previous_deaths": .int(Int64(result.previousDeaths)), "was_escalated": .bool(result.wasEscalated),
                    "cancelled_retry": .bool(result.retryCancelled),
                ], now: now)
        case .completion:
            result.previousDeaths = ticket.deaths
            result.retryCancelled = try Ledger.cancelRetry(db, ticket: id)
            if ticket.deaths != 0 || ticket.escalated {
                Self.clearStanding(&ticket)
                try save(db, &ticket, now)
            }
        case .deathBlamedOnHost(let maxSilentRetries):
            Self.takeBackDeath(&ticket, maxSilentRetries: maxSilentRetries, &result)
            try save(db, &ticket, now)
        case .deathTakenBack(let maxSilentRetries):
            Self.takeBackDeath(&ticket, maxSilentRetries: maxSilentRetries, &result)
            result.retryCancelled = try Ledger.cancelRetry(db, ticket: id)
            try save(db, &ticket, now)
        }
        result.ticket = ticket
        return result
    }

    /// One death less. Escalation comes when deaths exceed the silent retries; below that
    /// again, it was the death taken back that escalated the ticket.
    private static func takeBackDeath(_ ticket: inout Ticket, maxSilentRetries: Int, _ result: inout Result) {
        if ticket.deaths > 0 { ticket.deaths -= 1 }
        if ticket.escalated && ticket.deaths <= maxSilentRetries {
            result.wasEscalated = true
            ticket.escalated = false
            ticket.escalatedReason = nil
            ticket.escalatedAt = nil
        }
    }

    private func save(_ db: Database, _ ticket: inout Ticket, _ now: Double) throws {
        ticket.updatedAt = now
        try Ledger.updateTicket(db, ticket)
    }

    private static func clearStanding(_ ticket: inout Ticket) {
        ticket.deaths = 0
        ticket.escalated = false
        ticket.escalatedReason = nil
        ticket.escalatedAt = nil
    }

    static func exitDescription(_ runtime: Runtime) -> String {
        if let signal = runtime.exitSignal { return "killed by signal \(signal)" }
        if let code = runtime.exitCode { return "exit code \(code)" }
        return "exit status unknown"
    }
}

extension Ledger {
    /// `mcrun reset`: clears a known ticket's death count, escalation and owed relaunch.
    public func resetTicket(_ id: String, actor: String, reason: String?) throws(MCRunError) -> TicketTransition.Result {
        try write { db in
            guard try Ledger.ticket(db, id: id) != nil else {
                throw MCRunError(.notFound, "no_ticket", "ticket \(id) is not known to mcrun; see: mcrun ps --all")
            }
            return try TicketTransition.reset.apply(db, ticket: id, actor: actor, reason: reason)
        }
    }
}
