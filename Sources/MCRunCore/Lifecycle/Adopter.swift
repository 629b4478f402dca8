import GRDB

/// Takes over a ticket's live runtime instead of reverting it: a 409 from `start` means the
/// agent is alive and working, and the answer is to adopt it, never to start another or to
/// give the ticket up. Adopt only ever confirms a runtime that is running and alive by its
/// identity; it never revives a dead one and never moves one backwards.
public struct Adopter: Sendable {
    public let context: MCRunContext

    public init(context: MCRunContext) { self.context = context }

    public struct Request: Sendable {
        public var ticket: TicketID
        /// The owner claiming the runtime; recorded on success.
        public var owner: String?
        /// Take the runtime over from another owner, or adopt an escalated ticket's runtime.
        public var force: Bool

        public init(ticket: TicketID, owner: String?, force: Bool) {
            self.ticket = ticket
            self.owner = owner
            self.force = force
        }
    }

    /// Every check and the compare-and-set happen in one write transaction, so a `park`,
    /// `stop` or death recorded concurrently is either seen here or comes after the adopt.
    public func adopt(_ request: Request) throws(MCRunError) -> Runtime {
        let actor = context.actor
        // A dead agent is recorded dead here (counted once) and then declined below.
        try Ending(context: context).reapIfGone(ticket: request.ticket.rawValue)
        return try context.ledger.write { db in
            try Self.adopt(db, request: request, actor: actor)
        }
    }

    static func adopt(_ db: Database, request: Request, actor: String) throws -> Runtime {
        let id = request.ticket.rawValue
        try Policy.checkKillSwitch(db, action: "adopt")
        guard let ticket = try Ledger.ticket(db, id: id) else {
            throw MCRunError(.notFound, "no_runtime", "ticket \(id) has no runtime to adopt; start one with: mcrun start \(id) -- COMMAND")
        }
        try Policy.checkNotParked(ticket, action: "adopt")
        try Policy.checkNotHeld(db, ticket: id, action: "adopt")
        try Policy.checkNotEscalated(ticket, action: "adopt", force: request.force)
        guard let runtime = try Ledger.liveRuntime(db, ticket: id) ?? Ledger.latestRuntime(db, ticket: id) else {
            throw MCRunError(.notFound, "no_runtime", "ticket \(id) has no runtime to adopt; start one with: mcrun start \(id) -- COMMAND")
        }
        switch runtime.state {
        case .running:
            break
        case .dead:
            throw MCRunError(
                .declined, "agent_dead",
                "adopt declined: the agent of \(id) episode \(runtime.episode) is dead; nothing was revived; start a new episode with: mcrun start \(id) -- COMMAND",
                runtime: runtime)
        case .launching:
            throw MCRunError(
                .declined, "not_adoptable", "adopt declined: \(id) episode \(runtime.episode) is still launching; retry once it is running", runtime: runtime)
        case .stopping, .stopped, .completed, .launchFailed:
            throw MCRunError(
                .declined, "not_adoptable",
                "adopt declined: \(id) episode \(runtime.episode) is \(runtime.state.rawValue); a runtime is never moved backwards; start a new episode with: mcrun start \(id) -- COMMAND",
                runtime: runtime)
        }
        switch runtime.liveness() {
        case .alive?:
            break
        case .unknown?, nil:
            throw MCRunError(
                .refused, "liveness_unknown", "adopt refused: whether the agent of \(id) is alive cannot be determined (/proc unreadable); nothing was changed",
                runtime: runtime)
        case let other?:
            // The death itself is the reaper's to record (it counts deaths and decides
            // relaunches); adopt only refuses to pretend the agent is there.
            throw MCRunError(
                .declined, "agent_dead",
                "adopt declined: the agent of \(id) episode \(runtime.episode) is gone (\(other.rawValue)); nothing was revived; start a new episode with: mcrun start \(id) -- COMMAND",
                runtime: runtime)
        }
        if runtime.owner != request.owner && !request.force {
            throw MCRunError(
                .declined, "owner_mismatch",
                "adopt declined: \(id) episode \(runtime.episode) belongs to \(runtime.owner.map { "owner \($0.debugDescription)" } ?? "no owner"), not \(request.owner.map { $0.debugDescription } ?? "an unnamed owner"); pass --owner with the right owner, or --force to take it over",
                runtime: runtime)
        }
        let data: JSONValue = [
            "pid": JSONValue(runtime.pid.map { Int($0) }), "previous_owner": JSONValue(runtime.owner),
            "owner": JSONValue(request.owner), "forced": .bool(request.force && runtime.owner != request.owner),
            "forced_past_escalation": .bool(ticket.escalated),
        ]
        return try Transition.adopted.apply(db, runtimeID: runtime.id!, actor: actor, reason: "adopt", data: data) { r in
            r.owner = request.owner
        }
    }
}
