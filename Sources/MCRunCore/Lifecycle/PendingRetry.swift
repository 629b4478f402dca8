/// A silent relaunch owed to a ticket after its agent died: written in the death's
/// transaction, removed in the transaction that admits the relaunch (or by a reset, a
/// completion, a healing, or a refusal). At most one per ticket.
public struct PendingRetry: Codable, Sendable, Equatable {
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
    /// Owed because a host incident (mcrun's tmux server lost, the breaker) ended the
    /// runtime, not because its agent died: the relaunch is not a retry of the ticket.
    public var hostIncidentID: Int64?

    enum CodingKeys: String, CodingKey {
        case ticket
        case runtimeID = "runtime_id"
        case dueAt = "due_at"
        case createdAt = "created_at"
        case heldReason = "held_reason"
        case heldSince = "held_since"
        case attempts
        case hostIncidentID = "host_incident_id"
    }

    public init(ticket: String, runtimeID: Int64, dueAt: Double, createdAt: Double) {
        self.ticket = ticket
        self.runtimeID = runtimeID
        self.dueAt = dueAt
        self.createdAt = createdAt
    }
}
