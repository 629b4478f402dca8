import Foundation
import GRDB

/// The send queue: messages for a busy agent, per episode, delivered in order. `Sender`
/// decides when; these only read and write.
extension Ledger {
    static func pendingMessageCount(_ db: Database, runtimeID: Int64) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM send_queue WHERE runtime_id = ? AND state = 'pending'", arguments: [runtimeID]) ?? 0
    }

    /// Queues a message for the runtime; returns its id.
    static func queueMessage(_ db: Database, runtime: Runtime, body: [UInt8], enter: Bool, actor: String, now: Double) throws -> Int64 {
        try db.execute(
            sql: """
                INSERT INTO send_queue(runtime_id, ticket, state, body, enter, actor, created_at, mode, bytes, digest)
                VALUES (?, ?, 'pending', ?, ?, ?, ?, 'queue', ?, ?)
                """,
            arguments: [runtime.id, runtime.ticket, Data(body), enter, actor, now, body.count, DeliveryReceipt.digest(body)])
        return db.lastInsertedRowID
    }

    /// Records a message sent at once, already `delivering` (its paste comes next); returns
    /// its id. Its body is not kept: it is never typed again.
    static func recordDirectMessage(
        _ db: Database, runtime: Runtime, bytes: Int, digest: String, enter: Bool, mode: String, actor: String, now: Double
    ) throws -> Int64 {
        try db.execute(
            sql: """
                INSERT INTO send_queue(runtime_id, ticket, state, body, enter, actor, created_at, mode, bytes, digest)
                VALUES (?, ?, 'delivering', x'', ?, ?, ?, ?, ?, ?)
                """,
            arguments: [runtime.id, runtime.ticket, enter, actor, now, mode, bytes, digest])
        return db.lastInsertedRowID
    }

    /// The runtime's messages left `delivering`, oldest first.
    static func deliveringMessages(_ db: Database, runtimeID: Int64) throws -> [Int64] {
        try Int64.fetchAll(db, sql: "SELECT id FROM send_queue WHERE runtime_id = ? AND state = 'delivering' ORDER BY id", arguments: [runtimeID])
    }

    /// The runtime a message was sent to, and its state.
    static func message(_ db: Database, id: Int64) throws -> (runtimeID: Int64, state: String)? {
        try Row.fetchOne(db, sql: "SELECT runtime_id, state FROM send_queue WHERE id = ?", arguments: [id]).map { ($0["runtime_id"], $0["state"]) }
    }

    /// A message left `delivering` whose sender died mid-paste: it may or may not be in the
    /// pane, and is never typed again. True if it was still `delivering`.
    static func markMessageUncertain(_ db: Database, id: Int64, error: String) throws -> Bool {
        try db.execute(sql: "UPDATE send_queue SET state = 'uncertain', error = ? WHERE id = ? AND state = 'delivering'", arguments: [error, id])
        return db.changesCount > 0
    }

    /// The oldest message of the runtime on its way or in the pane without a receipt
    /// (`delivering`, `pasted`, `uncertain`) whose digest is `digest`, marked `confirmed`.
    static func confirmMessage(_ db: Database, runtimeID: Int64, digest: String, now: Double) throws -> (id: Int64, from: String)? {
        guard
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT id, state FROM send_queue
                    WHERE runtime_id = ? AND digest = ? AND state IN ('delivering','pasted','uncertain') ORDER BY id LIMIT 1
                    """, arguments: [runtimeID, digest])
        else { return nil }
        let id: Int64 = row["id"]
        try db.execute(
            sql: "UPDATE send_queue SET state = 'confirmed', confirmed_at = ?, delivered_at = coalesce(delivered_at, ?), error = NULL WHERE id = ?",
            arguments: [now, now, id])
        return (id, row["state"])
    }

    /// Whether the episode has a message on its way or in the pane without a receipt whose
    /// digest is `digest`: a prompt that matches none needs no write.
    static func hasUnconfirmedMessage(_ db: Database, ticket: String, episode: Int, digest: String) throws -> Bool {
        try Bool.fetchOne(
            db,
            sql: """
                SELECT EXISTS (SELECT 1 FROM send_queue q JOIN runtimes r ON r.id = q.runtime_id
                WHERE r.ticket = ? AND r.episode = ? AND q.digest = ? AND q.state IN ('delivering','pasted','uncertain'))
                """, arguments: [ticket, episode, digest]) ?? false
    }

    /// A message's state, for a sender waiting for its receipt.
    static func messageState(_ db: Database, id: Int64) throws -> String? {
        try String.fetchOne(db, sql: "SELECT state FROM send_queue WHERE id = ?", arguments: [id])
    }

    /// Takes the runtime's oldest pending message, marking it `delivering`.
    static func claimNextMessage(_ db: Database, runtimeID: Int64) throws -> (id: Int64, body: [UInt8], enter: Bool)? {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT id, body, enter FROM send_queue WHERE runtime_id = ? AND state = 'pending' ORDER BY id LIMIT 1", arguments: [runtimeID])
        else { return nil }
        let id: Int64 = row["id"]
        try db.execute(sql: "UPDATE send_queue SET state = 'delivering' WHERE id = ?", arguments: [id])
        return (id, [UInt8](row["body"] as Data? ?? Data()), row["enter"])
    }

    /// A message tmux pasted. Only a `delivering` one: a receipt may have come first.
    static func markMessagePasted(_ db: Database, id: Int64, at: Double) throws {
        try db.execute(sql: "UPDATE send_queue SET state = 'pasted', delivered_at = ? WHERE id = ? AND state = 'delivering'", arguments: [at, id])
    }

    static func markMessageFailed(_ db: Database, id: Int64, error: String, uncertain: Bool = false) throws {
        try db.execute(
            sql: "UPDATE send_queue SET state = ?, error = ? WHERE id = ? AND state IN ('pending','delivering')",
            arguments: [uncertain ? "uncertain" : "failed", error, id])
    }

    /// What an agent's hooks reported (busy, idle or waiting), on its running runtime.
    static func setActivity(
        _ db: Database, runtimeID: Int64, busy: Bool, source: Activity.Source, at now: Double, waitingSince: Double? = nil, waitingFor: String? = nil
    ) throws {
        try db.execute(
            sql: "UPDATE runtimes SET busy = ?, busy_source = ?, busy_at = ?, waiting_since = ?, waiting_for = ? WHERE id = ? AND state = 'running'",
            arguments: [busy, source.rawValue, now, waitingSince, waitingFor, runtimeID])
    }

    /// The agent's own session id and transcript, as its hooks named them.
    static func setAgentSession(_ db: Database, runtimeID: Int64, sessionID: String, transcriptPath: String?) throws {
        try db.execute(
            sql: "UPDATE runtimes SET agent_session_id = ?, agent_transcript_path = ? WHERE id = ?",
            arguments: [sessionID, transcriptPath, runtimeID])
    }

    /// An agent that reports through hooks is busy from the moment it has input.
    static func markHookReportingRuntimeBusy(_ db: Database, runtimeID: Int64, now: Double) throws {
        try db.execute(sql: "UPDATE runtimes SET busy = 1, busy_at = ? WHERE id = ? AND busy_source = 'hook'", arguments: [now, runtimeID])
    }

    static let messageColumns = "id, runtime_id, state, mode, bytes, created_at, delivered_at, confirmed_at, error"

    static func message(_ row: Row) -> QueuedMessage {
        QueuedMessage(
            id: row["id"], runtimeID: row["runtime_id"], state: row["state"], mode: row["mode"], bytes: row["bytes"],
            createdAt: row["created_at"], deliveredAt: row["delivered_at"], confirmedAt: row["confirmed_at"], error: row["error"])
    }

    /// A runtime's messages, the latest `limit`, oldest first, without their bodies.
    static func queuedMessages(_ db: Database, runtimeID: Int64, limit: Int = 50) throws -> [QueuedMessage] {
        try Row.fetchAll(
            db, sql: "SELECT \(messageColumns) FROM send_queue WHERE runtime_id = ? ORDER BY id DESC LIMIT ?", arguments: [runtimeID, limit]
        ).map(message).reversed()
    }

    /// The latest message of each live runtime, by runtime id: one query for `ps`.
    static func lastMessagesOfLiveRuntimes(_ db: Database) throws -> [Int64: QueuedMessage] {
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT \(messageColumns) FROM send_queue WHERE id IN (
                    SELECT max(q.id) FROM send_queue q JOIN runtimes r ON r.id = q.runtime_id
                    WHERE r.state IN ('launching','running','stopping') GROUP BY q.runtime_id)
                """)
        return Dictionary(
            rows.map { row in
                let m = message(row)
                return (m.runtimeID, m)
            }
        ) { a, _ in a }
    }

    /// Live runtimes with a message left `delivering`, by id.
    public func runtimesWithDeliveringMessages() throws(MCRunError) -> [Int64] {
        try read { db in
            try Int64.fetchAll(
                db,
                sql: """
                    SELECT DISTINCT q.runtime_id FROM send_queue q JOIN runtimes r ON r.id = q.runtime_id
                    WHERE q.state = 'delivering' AND r.state IN ('launching','running','stopping') ORDER BY q.runtime_id
                    """)
        }
    }

    /// Running runtimes with at least one pending message, by id.
    public func runtimesWithPendingMessages() throws(MCRunError) -> [Int64] {
        try read { db in
            try Int64.fetchAll(
                db,
                sql: """
                    SELECT DISTINCT q.runtime_id FROM send_queue q JOIN runtimes r ON r.id = q.runtime_id
                    WHERE q.state = 'pending' AND r.state = 'running' ORDER BY q.runtime_id
                    """)
        }
    }
}
