public import GRDB
public import MCRunCore

/// A ticket's death count and escalation, changed only inside the transaction that records
/// the death, the completion or the reset, each with its event.
public enum TicketHealth {
    public struct DeathRecord: Sendable, Equatable {
        public var deaths: Int
        public var decision: DeathPolicy.Decision
        /// True when this death escalated the ticket (false if it already was).
        public var escalatedNow: Bool
    }

    /// Counts `runtime`'s death (already moved to `dead` in this transaction) and applies
    /// the policy: a pending retry, or escalation.
    public static func recordDeath(
        _ db: Database, runtime: Runtime, policy: DeathPolicy, actor: String, now: Double = WallClock.now()
    ) throws -> DeathRecord {
        var ticket = try Ledger.ensureTicket(db, id: runtime.ticket, now: now)
        ticket.deaths += 1
        ticket.updatedAt = now
        let decision = policy.decide(deaths: ticket.deaths, now: now)
        var escalatedNow = false
        switch decision {
        case .retry(let dueAt):
            try PendingRetry(ticket: ticket.id, runtimeID: runtime.id!, dueAt: dueAt, createdAt: now).insert(db, onConflict: .replace)
        case .escalate:
            try PendingRetry.cancel(db, ticket: ticket.id)
            if !ticket.escalated {
                escalatedNow = true
                ticket.escalated = true
                ticket.escalatedAt = now
                ticket.escalatedReason = "died \(ticket.deaths) times without completing (\(policy.maxSilentRetries) silent \(policy.maxSilentRetries == 1 ? "retry" : "retries") allowed); last: episode \(runtime.episode), \(exitDescription(runtime))"
            }
        }
        try ticket.update(db)
        if escalatedNow {
            try Ledger.appendEvent(
                db, kind: "escalation", runtime: runtime, actor: actor, reason: ticket.escalatedReason,
                data: ["deaths": .int(Int64(ticket.deaths)), "max_silent_retries": .int(Int64(policy.maxSilentRetries))], now: now)
        }
        return DeathRecord(deaths: ticket.deaths, decision: decision, escalatedNow: escalatedNow)
    }

    /// An accepted completion: the count starts again and the escalation is cleared.
    public static func recordCompletion(_ db: Database, ticket id: String, now: Double = WallClock.now()) throws {
        try Ledger.recordCompletion(db, ticket: id, now: now)
    }

    /// Escalates without a death, e.g. when the silent relaunch itself failed to start.
    public static func escalate(_ db: Database, ticket id: String, runtime: Runtime?, reason: String, actor: String, now: Double = WallClock.now()) throws {
        var ticket = try Ledger.ensureTicket(db, id: id, now: now)
        guard !ticket.escalated else { return }
        ticket.escalated = true
        ticket.escalatedAt = now
        ticket.escalatedReason = reason
        ticket.updatedAt = now
        try ticket.update(db)
        try Ledger.appendEvent(db, kind: "escalation", ticket: id, runtime: runtime, actor: actor, reason: reason, data: ["deaths": .int(Int64(ticket.deaths))], now: now)
    }

    public struct ResetResult: Sendable, Equatable {
        public var previousDeaths: Int
        public var wasEscalated: Bool
        public var cancelledRetry: Bool
    }

    /// `mcrun reset`: an operator clears the count and the escalation (and any relaunch
    /// still owed, which the operator now decides on).
    public static func reset(_ db: Database, ticket id: String, actor: String, reason: String?, now: Double = WallClock.now()) throws -> ResetResult {
        guard var ticket = try Ledger.ticket(db, id: id) else {
            throw MCRunError(.notFound, "no_ticket", "ticket \(id) is not known to mcrun; see: mcrun ps --all")
        }
        let result = ResetResult(
            previousDeaths: ticket.deaths, wasEscalated: ticket.escalated, cancelledRetry: try PendingRetry.cancel(db, ticket: id))
        ticket.deaths = 0
        ticket.escalated = false
        ticket.escalatedReason = nil
        ticket.escalatedAt = nil
        ticket.updatedAt = now
        try ticket.update(db)
        try Ledger.appendEvent(
            db, kind: "reset", ticket: id, actor: actor, reason: reason,
            data: [
                "previous_deaths": .int(Int64(result.previousDeaths)), "was_escalated": .bool(result.wasEscalated),
                "cancelled_retry": .bool(result.cancelledRetry),
            ], now: now)
        return result
    }

    static func exitDescription(_ runtime: Runtime) -> String {
        if let signal = runtime.exitSignal { return "killed by signal \(signal)" }
        if let code = runtime.exitCode { return "exit code \(code)" }
        return "exit status unknown"
    }
}
