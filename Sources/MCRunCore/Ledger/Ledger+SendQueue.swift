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
            sql: "INSERT INTO send_queue(runtime_id, ticket, state, body, enter, actor, created_at) VALUES (?, ?, 'pending', ?, ?, ?, ?)",
            arguments: [runtime.id, runtime.ticket, Data(body), enter, actor, now])
        return db.lastInsertedRowID
    }

    /// Marks `delivering` messages of the runtime `uncertain`: only a sender that died
    /// mid-paste leaves one behind, since the caller holds the runtime's send lock.
    static func markInterruptedDeliveriesUncertain(_ db: Database, runtimeID: Int64) throws {
        try db.execute(
            sql: "UPDATE send_queue SET state = 'uncertain', error = 'sender died during delivery' WHERE runtime_id = ? AND state = 'delivering'",
            arguments: [runtimeID])
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

    static func markMessageDelivered(_ db: Database, id: Int64, now: Double) throws {
        try db.execute(sql: "UPDATE send_queue SET state = 'delivered', delivered_at = ? WHERE id = ?", arguments: [now, id])
    }

    static func markMessageFailed(_ db: Database, id: Int64, error: String) throws {
        try db.execute(sql: "UPDATE send_queue SET state = 'failed', error = ? WHERE id = ?", arguments: [error, id])
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

    /// A runtime's queue, oldest first, without the message bodies.
    static func queuedMessages(_ db: Database, runtimeID: Int64) throws -> [QueuedMessage] {
        try Row.fetchAll(
            db, sql: "SELECT id, runtime_id, state, length(body) AS bytes, created_at, delivered_at, error FROM send_queue WHERE runtime_id = ? ORDER BY id",
            arguments: [runtimeID]
        ).map { row in
            QueuedMessage(
                id: row["id"], runtimeID: row["runtime_id"], state: row["state"], bytes: row["bytes"],
                createdAt: row["created_at"], deliveredAt: row["delivered_at"], error: row["error"])
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
