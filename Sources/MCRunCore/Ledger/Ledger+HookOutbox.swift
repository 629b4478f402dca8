public import GRDB

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
            if let state { conditions.append("d.state = ?"); arguments.append(state) }
            if let eventID { conditions.append("d.event_id = ?"); arguments.append(eventID) }
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

    public static func pendingHookDeliveryCount(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM hook_deliveries WHERE state = 'pending'") ?? 0
    }

    /// When the earliest pending delivery may be tried (its backoff over and its lease, if
    /// any, expired); nil when none is pending.
    public static func nextHookDeliveryDue(_ db: Database) throws -> Double? {
        try Double.fetchOne(db, sql: "SELECT min(max(next_attempt_at, coalesce(lease_until, 0))) FROM hook_deliveries WHERE state = 'pending'")
    }

    /// The id of the last event the outbox has taken up; 0 before the first.
    public static func hookCursor(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT last_event_id FROM hook_cursor WHERE id = 1") ?? 0
    }

    public static func moveHookCursor(_ db: Database, to eventID: Int64) throws {
        try db.execute(
            sql: "INSERT INTO hook_cursor(id, last_event_id) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET last_event_id = excluded.last_event_id",
            arguments: [eventID])
    }

    /// Records a pending delivery of the event to the hook; false when one already exists.
    @discardableResult
    public static func enqueueHookDelivery(_ db: Database, eventID: Int64?, hook: String, now: Double) throws -> Bool {
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO hook_deliveries(event_id, hook, state, attempts, next_attempt_at, created_at)
                VALUES (?, ?, 'pending', 0, ?, ?)
                """,
            arguments: [eventID, hook, now, now])
        return db.changesCount > 0
    }

    /// A pending delivery whose backoff is over, with its lease as recorded.
    public struct DueHookDelivery: Sendable {
        public var id: Int64
        public var eventID: Int64
        public var hook: String
        public var attempts: Int
        public var leaseUntil: Double?
        public var leaseOwner: String?
    }

    public static func dueHookDeliveries(_ db: Database, now: Double, limit: Int) throws -> [DueHookDelivery] {
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

    /// Leases the delivery to `owner` until `until` and opens attempt number `attempt`;
    /// returns the attempt's id.
    public static func leaseHookDelivery(_ db: Database, id: Int64, attempt: Int, owner: String, until: Double, now: Double) throws -> Int64 {
        try db.execute(
            sql: "UPDATE hook_deliveries SET attempts = ?, lease_until = ?, lease_owner = ? WHERE id = ?",
            arguments: [attempt, until, owner, id])
        try db.execute(
            sql: "INSERT INTO hook_attempts(delivery_id, attempt, started_at) VALUES (?, ?, ?)", arguments: [id, attempt, now])
        return db.lastInsertedRowID
    }

    /// An attempt without an end: its id and the hook process it ran, if recorded.
    public struct UnfinishedHookAttempt: Sendable {
        public var id: Int64
        public var pid: Int32?
        public var pidStartTime: Int64?
    }

    public static func unfinishedHookAttempts(_ db: Database, deliveryID: Int64) throws -> [UnfinishedHookAttempt] {
        try Row.fetchAll(
            db, sql: "SELECT id, pid, pid_start_time FROM hook_attempts WHERE delivery_id = ? AND ended_at IS NULL", arguments: [deliveryID]
        ).map { UnfinishedHookAttempt(id: $0["id"], pid: $0["pid"], pidStartTime: $0["pid_start_time"]) }
    }

    public static func markHookAttemptInterrupted(_ db: Database, id: Int64, now: Double) throws {
        try db.execute(
            sql: "UPDATE hook_attempts SET ended_at = ?, outcome = 'interrupted', error = 'the dispatcher ended during the attempt' WHERE id = ?",
            arguments: [now, id])
    }

    /// The hook process an attempt runs, so a later dispatcher can kill it if this one dies.
    public static func recordHookAttemptProcess(_ db: Database, attemptID: Int64, pid: Int32, startTime: Int64) throws {
        try db.execute(sql: "UPDATE hook_attempts SET pid = ?, pid_start_time = ? WHERE id = ?", arguments: [pid, startTime, attemptID])
    }

    /// Ends an attempt that is still open; one already ended (by a takeover) is left as it is.
    public static func finishHookAttempt(
        _ db: Database, id: Int64, now: Double, outcome: String, exitCode: Int32?, exitSignal: Int32?, error: String?
    ) throws {
        try db.execute(
            sql: "UPDATE hook_attempts SET ended_at = ?, outcome = ?, exit_code = ?, exit_signal = ?, error = ? WHERE id = ? AND ended_at IS NULL",
            arguments: [now, outcome, exitCode, exitSignal, error, id])
    }

    /// Who holds the lease of a delivery still pending; nil when none does or it is no longer pending.
    public static func hookLeaseHolder(_ db: Database, deliveryID: Int64) throws -> String? {
        try String.fetchOne(db, sql: "SELECT lease_owner FROM hook_deliveries WHERE id = ? AND state = 'pending'", arguments: [deliveryID])
    }

    public static func markHookDelivered(_ db: Database, deliveryID: Int64, now: Double) throws {
        try db.execute(
            sql: "UPDATE hook_deliveries SET state = 'delivered', delivered_at = ?, last_exit = 0, last_error = NULL, lease_until = NULL, lease_owner = NULL WHERE id = ?",
            arguments: [now, deliveryID])
    }

    public static func markHookFailed(_ db: Database, deliveryID: Int64, exitCode: Int32?, error: String?) throws {
        try db.execute(
            sql: "UPDATE hook_deliveries SET state = 'failed', last_exit = ?, last_error = ?, lease_until = NULL, lease_owner = NULL WHERE id = ?",
            arguments: [exitCode, error, deliveryID])
    }

    /// Releases the lease and holds the delivery back until `at`.
    public static func scheduleHookRetry(_ db: Database, deliveryID: Int64, at: Double, exitCode: Int32?, error: String?) throws {
        try db.execute(
            sql: "UPDATE hook_deliveries SET next_attempt_at = ?, last_exit = ?, last_error = ?, lease_until = NULL, lease_owner = NULL WHERE id = ?",
            arguments: [at, exitCode, error, deliveryID])
    }
}
