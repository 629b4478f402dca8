import GRDB

/// Relaunches owed after a death (`pending_retries`): at most one per ticket, written in the
/// death's transaction and taken in the transaction that admits the relaunch.
extension Ledger {
    /// Every owed relaunch, the soonest due first.
    static func pendingRetries(_ db: Database) throws -> [PendingRetry] {
        try PendingRetry.fetchAll(db, sql: "SELECT * FROM pending_retries ORDER BY due_at")
    }

    static func pendingRetry(_ db: Database, ticket: String) throws -> PendingRetry? {
        try PendingRetry.fetchOne(db, key: ticket)
    }

    /// Owes a relaunch to the ticket, in place of any it was owed before.
    static func oweRetry(_ db: Database, _ retry: PendingRetry) throws {
        var retry = retry
        try retry.insert(db, onConflict: .replace)
    }

    /// Removes the ticket's pending retry; true when there was one.
    @discardableResult
    static func cancelRetry(_ db: Database, ticket: String) throws -> Bool {
        try db.execute(sql: "DELETE FROM pending_retries WHERE ticket = ?", arguments: [ticket])
        return db.changesCount > 0
    }

    /// Takes the retry owed for `runtimeID`; false when it was already taken or cancelled.
    static func claimRetry(_ db: Database, ticket: String, runtimeID: Int64) throws -> Bool {
        try db.execute(sql: "DELETE FROM pending_retries WHERE ticket = ? AND runtime_id = ?", arguments: [ticket, runtimeID])
        return db.changesCount > 0
    }
}

extension PendingRetry {
    /// A relaunch refused by a policy that passes (kill switch, capacity): it stays owed,
    /// marked held with the reason. True when the reason is new (and `retry_refused` was written).
    public static func hold(
        ledger: Ledger, ticket: String, runtime previous: Runtime, reason: String, message: String, actor: String
    ) throws(MCRunError) -> Bool {
        try ledger.write { db in
            guard var owed = try Ledger.pendingRetry(db, ticket: ticket), owed.runtimeID == previous.id else { return false }
            guard owed.heldReason != reason else { return false }
            let now = WallClock.now()
            owed.heldReason = reason
            owed.heldSince = now
            try owed.update(db)
            try Ledger.appendEvent(
                db, kind: "retry_refused", runtime: previous, actor: actor, reason: reason,
                data: ["message": .string(message), "still_pending": true], now: now)
            return true
        }
    }

    /// A relaunch refused for good (the ticket was parked, another runtime started): it is
    /// no longer owed. True when this call took it (and `retry_refused` was written).
    public static func drop(
        ledger: Ledger, ticket: String, runtime previous: Runtime, reason: String, message: String, actor: String
    ) throws(MCRunError) -> Bool {
        try ledger.write { db in
            guard try Ledger.claimRetry(db, ticket: ticket, runtimeID: previous.id!) else { return false }
            try Ledger.appendEvent(
                db, kind: "retry_refused", runtime: previous, actor: actor, reason: reason,
                data: ["message": .string(message), "still_pending": false])
            return true
        }
    }
}
