public import GRDB

/// A silent relaunch owed to a ticket after its agent died: written in the death's
/// transaction, removed in the transaction that admits the relaunch (or by a reset, a
/// completion, a healing, or a refusal). At most one per ticket.
public struct PendingRetry: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "pending_retries"

    public var ticket: String
    /// The dead runtime whose argv, cwd and environment the relaunch replays.
    public var runtimeID: Int64
    /// Wall-clock seconds after which the relaunch may start.
    public var dueAt: Double
    public var createdAt: Double
    /// Why the relaunch is held back for now (killswitch, capacity, ...), nil while it is only waiting to be due.
    public var heldReason: String?
    public var heldSince: Double?
    /// Launch attempts that failed for a cause outside the agent; the relaunch stays owed.
    public var attempts: Int = 0

    public enum CodingKeys: String, CodingKey, ColumnExpression {
        case ticket, runtimeID = "runtime_id", dueAt = "due_at", createdAt = "created_at"
        case heldReason = "held_reason", heldSince = "held_since", attempts
    }

    public init(ticket: String, runtimeID: Int64, dueAt: Double, createdAt: Double) {
        self.ticket = ticket
        self.runtimeID = runtimeID
        self.dueAt = dueAt
        self.createdAt = createdAt
    }

    public static func all(_ db: Database) throws -> [PendingRetry] {
        try PendingRetry.order(CodingKeys.dueAt).fetchAll(db)
    }

    /// Removes the ticket's pending retry; true when there was one.
    @discardableResult
    public static func cancel(_ db: Database, ticket: String) throws -> Bool {
        try PendingRetry.deleteOne(db, key: ticket)
    }

    /// Takes the retry owed for `runtimeID`; false when it was already taken or cancelled.
    public static func claim(_ db: Database, ticket: String, runtimeID: Int64) throws -> Bool {
        try db.execute(sql: "DELETE FROM pending_retries WHERE ticket = ? AND runtime_id = ?", arguments: [ticket, runtimeID])
        return db.changesCount > 0
    }
}
