import GRDB

/// Reads that answer "what does the ledger hold now", for checks from outside the core
/// (the tests among them): plain values, each one read transaction.
extension Ledger {
    /// The ticket's live runtime, if any.
    public func liveRuntime(ticket: String) throws(MCRunError) -> Runtime? {
        try read { db in try Ledger.liveRuntime(db, ticket: ticket) }
    }

    /// How many runtimes are in a live state.
    public func liveCount() throws(MCRunError) -> Int {
        try read { db in try Ledger.liveCount(db) }
    }

    /// Every episode of the ticket, newest first.
    public func episodes(ticket: String) throws(MCRunError) -> [Runtime] {
        try read { db in try Ledger.episodes(db, ticket: ticket) }
    }

    /// How many events are recorded, of `kind` only when given.
    public func eventCount(kind: String? = nil) throws(MCRunError) -> Int {
        try read { db in
            guard let kind else { return try Int.fetchOne(db, sql: "SELECT count(*) FROM events") ?? 0 }
            return try Int.fetchOne(db, sql: "SELECT count(*) FROM events WHERE kind = ?", arguments: [kind]) ?? 0
        }
    }

    /// Every relaunch owed, the soonest due first.
    public func pendingRetries() throws(MCRunError) -> [PendingRetry] {
        try read { db in try Ledger.pendingRetries(db) }
    }

    /// Every completion signal, in the order they were stored.
    public func signals() throws(MCRunError) -> [CompletionSignal] {
        try read { db in try CompletionSignal.fetchAll(db, sql: "SELECT * FROM signals ORDER BY id") }
    }

    /// The id of the last event the event-hook outbox has taken up; 0 before the first.
    public func hookCursor() throws(MCRunError) -> Int64 {
        try read { db in try Ledger.hookCursor(db) }
    }

    /// Each event-hook delivery's state and attempt count, in the order they were created.
    public func hookDeliveryStates() throws(MCRunError) -> [(state: String, attempts: Int)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT state, attempts FROM hook_deliveries ORDER BY id").map { ($0["state"], $0["attempts"]) }
        }
    }

    /// Each attempt to run an event hook, its number and outcome, in the order they began.
    public func hookAttemptOutcomes() throws(MCRunError) -> [(attempt: Int, outcome: String?)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT attempt, outcome FROM hook_attempts ORDER BY id").map { ($0["attempt"], $0["outcome"]) }
        }
    }

    /// How many event-hook attempts have their hook process recorded.
    public func hookAttemptsWithProcess() throws(MCRunError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM hook_attempts WHERE pid IS NOT NULL") ?? 0 }
    }
}
