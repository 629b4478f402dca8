import GRDB

/// The event-hook outbox: a cursor over the events, one delivery per (event, hook), one
/// attempt row per run of a hook. The dispatcher decides; these only read and write.
extension Ledger {
    // MARK: What `hooks list` and `hooks deliver --once` show

    public struct HookDelivery: Sendable {
        public var id: Int64
        public var eventID: Int64
        public var eventKind: String
        public var hook: String
        public var state: String
        public var attempts: Int
        public var nextAttemptAt: Double
        public var lastExit: Int?
        public var lastError: String?
        public var deliveredAt: Double?
        public var tries: [HookAttempt]
    }

    public struct HookAttempt: Sendable {
        public var attempt: Int
        public var startedAt: Double
        public var endedAt: Double?
        public var outcome: String?
        public var exitCode: Int?
        public var exitSignal: Int?
        public var error: String?
    }

    /// Deliveries, newest first, each with every attempt; only those in `state` or of
    /// `eventID` when given. Two queries whatever the number of deliveries.
    public func hookDeliveries(state: String?, eventID: Int64?, limit: Int) throws(MCRunError) -> [HookDelivery] {
        try read { db in
            var conditions: [String] = []
            var arguments: [any DatabaseValueConvertible] = []
            if let state {
                conditions.append("d.state = ?")
                arguments.append(state)
            }
            if let eventID {
                conditions.append("d.event_id = ?")
                arguments.append(eventID)
            }
            arguments.append(max(0, limit))
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT d.*, e.kind FROM hook_deliveries d JOIN events e ON e.id = d.event_id"
                    + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")) + " ORDER BY d.id DESC LIMIT ?",
                arguments: StatementArguments(arguments))
            guard let oldest = rows.last.map({ $0["id"] as Int64 }), let newest = rows.first.map({ $0["id"] as Int64 }) else { return [] }
            var tries: [Int64: [HookAttempt]] = [:]
            for a in try Row.fetchAll(
                db, sql: "SELECT * FROM hook_attempts WHERE delivery_id BETWEEN ? AND ? ORDER BY delivery_id, attempt", arguments: [oldest, newest])
            {
                tries[a["delivery_id"], default: []].append(
                    HookAttempt(
                        attempt: a["attempt"], startedAt: a["started_at"], endedAt: a["ended_at"], outcome: a["outcome"],
                        exitCode: a["exit_code"], exitSignal: a["exit_signal"], error: a["error"]))
            }
            return rows.map { d in
                let id: Int64 = d["id"]
                return HookDelivery(
                    id: id, eventID: d["event_id"], eventKind: d["kind"], hook: d["hook"], state: d["state"], attempts: d["attempts"],
                    nextAttemptAt: d["next_attempt_at"], lastExit: d["last_exit"], lastError: d["last_error"],
                    deliveredAt: d["delivered_at"], tries: tries[id] ?? [])
            }
        }
    }

    public func pendingHookDeliveryCount() throws(MCRunError) -> Int {
        try read { db in try Ledger.pendingHookDeliveryCount(db) }
    }

    // MARK: The dispatcher's steps

    /// When the earliest pending delivery may be tried (its backoff over and its lease, if
    /// any, expired); nil when none is pending.
    public func nextHookDeliveryDue() throws(MCRunError) -> Double? {
        try read { db in
            try Double.fetchOne(db, sql: "SELECT min(max(next_attempt_at, coalesce(lease_until, 0))) FROM hook_deliveries WHERE state = 'pending'")
        }
    }

    /// Reads up to `limit` events past the outbox's cursor, records a pending delivery to
    /// each hook `hooks(kind)` names, and moves the cursor past them, in one transaction:
    /// each event is taken up exactly once. Returns the events taken up and the number of
    /// deliveries created.
    public func takeUpEventsForHooks(limit: Int, now: Double, hooks: (String) -> [String]) throws(MCRunError) -> (events: [Event], created: Int) {
        try write { db in
            let events = try Ledger.events(db, after: try Ledger.hookCursor(db), limit: limit)
            guard let last = events.last?.id else { return ([], 0) }
            var created = 0
            for event in events {
                for hook in hooks(event.kind) {
                    if try Ledger.enqueueHookDelivery(db, eventID: event.id, hook: hook, now: now) { created += 1 }
                }
            }
            try Ledger.moveHookCursor(db, to: last)
            return (events, created)
        }
    }

    /// A delivery leased to a dispatcher, with the attempt it opened.
    public struct HookClaim: Sendable {
        public var deliveryID: Int64
        public var attemptID: Int64
        public var attempt: Int
        public var hook: String
        public var event: Event
    }

    /// An attempt without an end: its id and the hook process it ran, if recorded.
    public struct UnfinishedHookAttempt: Sendable {
        public var id: Int64
        public var pid: Int32?
        public var pidStartTime: Int64?
    }

    /// Leases the oldest due delivery (pending, its backoff over) to `owner` for
    /// `leaseSeconds` and opens its next attempt. A delivery leased to another owner that
    /// `ownerAlive` says is alive is passed over; one whose owner is gone is taken over, each
    /// attempt it left unfinished given to `interrupt` (to kill what it still runs) and
    /// closed as interrupted. Nil when nothing is due.
    public func claimHookDelivery(
        owner: String, leaseSeconds: Double, now: Double, ownerAlive: (String) -> Bool, interrupt: (UnfinishedHookAttempt) -> Void
    ) throws(MCRunError) -> HookClaim? {
        try write { db -> HookClaim? in
            for due in try Ledger.dueHookDeliveries(db, now: now, limit: 50) {
                if let leaseUntil = due.leaseUntil, leaseUntil > now, let leaseOwner = due.leaseOwner, leaseOwner != owner, ownerAlive(leaseOwner) {
                    continue
                }
                guard let event = try Event.fetchOne(db, key: due.eventID) else { continue }
                for unfinished in try Ledger.unfinishedHookAttempts(db, deliveryID: due.id) {
                    interrupt(unfinished)
                    try db.execute(
                        sql: "UPDATE hook_attempts SET ended_at = ?, outcome = 'interrupted', error = 'the dispatcher ended during the attempt' WHERE id = ?",
                        arguments: [now, unfinished.id])
                }
                let attempt = due.attempts + 1
                try db.execute(
                    sql: "UPDATE hook_deliveries SET attempts = ?, lease_until = ?, lease_owner = ? WHERE id = ?",
                    arguments: [attempt, now + leaseSeconds, owner, due.id])
                try db.execute(
                    sql: "INSERT INTO hook_attempts(delivery_id, attempt, started_at) VALUES (?, ?, ?)", arguments: [due.id, attempt, now])
                return HookClaim(deliveryID: due.id, attemptID: db.lastInsertedRowID, attempt: attempt, hook: due.hook, event: event)
            }
            return nil
        }
    }

    /// The hook process an attempt runs, so a later dispatcher can kill it if this one dies.
    public func recordHookAttemptProcess(attemptID: Int64, pid: Int32, startTime: Int64) throws(MCRunError) {
        try write { db in
            try db.execute(sql: "UPDATE hook_attempts SET pid = ?, pid_start_time = ? WHERE id = ?", arguments: [pid, startTime, attemptID])
        }
    }

    /// How one run of a hook ended: `ok` (exit 0), `exit`, `signal`, `timeout` or `spawn_error`.
    public struct HookAttemptEnd: Sendable {
        public var outcome: String
        public var exitCode: Int32?
        public var exitSignal: Int32?
        public var error: String?

        public init(outcome: String, exitCode: Int32? = nil, exitSignal: Int32? = nil, error: String? = nil) {
            self.outcome = outcome
            self.exitCode = exitCode
            self.exitSignal = exitSignal
            self.error = error
        }

        public var succeeded: Bool { outcome == "ok" }
    }

    public enum HookDeliveryVerdict: Sendable { case delivered, retry, failed }

    /// Ends the claim's attempt and settles its delivery in one transaction: delivered when
    /// the hook succeeded; failed, with a `hook_failed` event, when `giveUp`; else held back
    /// until `retryAt`. A delivery another dispatcher took over meanwhile (the lease ran
    /// out) is left to it: its word stands, and this one answers `.retry`.
    public func concludeHookAttempt(
        _ claim: HookClaim, _ end: HookAttemptEnd, owner: String, giveUp: Bool, retryAt: Double, actor: String, now: Double
    ) throws(MCRunError) -> HookDeliveryVerdict {
        try write { db -> HookDeliveryVerdict in
            // An attempt already ended (by a takeover) is left as it is.
            try db.execute(
                sql: "UPDATE hook_attempts SET ended_at = ?, outcome = ?, exit_code = ?, exit_signal = ?, error = ? WHERE id = ? AND ended_at IS NULL",
                arguments: [now, end.outcome, end.exitCode, end.exitSignal, end.error, claim.attemptID])
            let holder = try String.fetchOne(
                db, sql: "SELECT lease_owner FROM hook_deliveries WHERE id = ? AND state = 'pending'", arguments: [claim.deliveryID])
            guard holder == owner else { return .retry }
            if end.succeeded {
                try db.execute(
                    sql:
                        "UPDATE hook_deliveries SET state = 'delivered', delivered_at = ?, last_exit = 0, last_error = NULL, lease_until = NULL, lease_owner = NULL WHERE id = ?",
                    arguments: [now, claim.deliveryID])
                return .delivered
            }
            if giveUp {
                try db.execute(
                    sql: "UPDATE hook_deliveries SET state = 'failed', last_exit = ?, last_error = ?, lease_until = NULL, lease_owner = NULL WHERE id = ?",
                    arguments: [end.exitCode, end.error, claim.deliveryID])
                try Ledger.appendEvent(
                    db, kind: "hook_failed", ticket: claim.event.ticket, actor: actor, reason: end.outcome,
                    data: [
                        "event_id": JSONValue(claim.event.id), "event_kind": .string(claim.event.kind), "hook": .string(claim.hook),
                        "attempts": .int(Int64(claim.attempt)), "error": JSONValue(end.error),
                    ],
                    now: now)
                return .failed
            }
            try db.execute(
                sql: "UPDATE hook_deliveries SET next_attempt_at = ?, last_exit = ?, last_error = ?, lease_until = NULL, lease_owner = NULL WHERE id = ?",
                arguments: [retryAt, end.exitCode, end.error, claim.deliveryID])
            return .retry
        }
    }

    /// Completion signals whose sender died between storing and judging them are judged
    /// here, by the dispatcher's pass; returns how many.
    @discardableResult
    public func judgeStrandedSignals(actor: String) throws(MCRunError) -> Int {
        try write { db in try CompletionSignals.judgePending(db, actor: actor) }
    }

    // MARK: Reads and writes of the steps above

    private static func pendingHookDeliveryCount(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM hook_deliveries WHERE state = 'pending'") ?? 0
    }

    /// The id of the last event the outbox has taken up; 0 before the first.
    static func hookCursor(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT last_event_id FROM hook_cursor WHERE id = 1") ?? 0
    }

    private static func moveHookCursor(_ db: Database, to eventID: Int64) throws {
        try db.execute(
            sql: "INSERT INTO hook_cursor(id, last_event_id) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET last_event_id = excluded.last_event_id",
            arguments: [eventID])
    }

    /// Records a pending delivery of the event to the hook; false when one already exists.
    private static func enqueueHookDelivery(_ db: Database, eventID: Int64?, hook: String, now: Double) throws -> Bool {
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO hook_deliveries(event_id, hook, state, attempts, next_attempt_at, created_at)
                VALUES (?, ?, 'pending', 0, ?, ?)
                """,
            arguments: [eventID, hook, now, now])
        return db.changesCount > 0
    }

    /// A pending delivery whose backoff is over, with its lease as recorded.
    private struct DueHookDelivery {
        var id: Int64
        var eventID: Int64
        var hook: String
        var attempts: Int
        var leaseUntil: Double?
        var leaseOwner: String?
    }

    private static func dueHookDeliveries(_ db: Database, now: Double, limit: Int) throws -> [DueHookDelivery] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT id, event_id, hook, attempts, lease_until, lease_owner FROM hook_deliveries
                WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?
                """,
            arguments: [now, limit]
        ).map { row in
            DueHookDelivery(
                id: row["id"], eventID: row["event_id"], hook: row["hook"], attempts: row["attempts"], leaseUntil: row["lease_until"],
                leaseOwner: row["lease_owner"])
        }
    }

    private static func unfinishedHookAttempts(_ db: Database, deliveryID: Int64) throws -> [UnfinishedHookAttempt] {
        try Row.fetchAll(
            db, sql: "SELECT id, pid, pid_start_time FROM hook_attempts WHERE delivery_id = ? AND ended_at IS NULL", arguments: [deliveryID]
        ).map { UnfinishedHookAttempt(id: $0["id"], pid: $0["pid"], pidStartTime: $0["pid_start_time"]) }
    }
}
