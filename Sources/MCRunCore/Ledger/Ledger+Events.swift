import GRDB

extension Ledger {
    /// Events after `cursor` in id order, at most `limit`: only `ticket`'s when given, only
    /// the given kinds when any. Ids are assigned under the single writer lock, so a reader
    /// that resumes from the last id it saw never skips a later commit.
    public func events(after cursor: Int64, ticket: String? = nil, kinds: [String] = [], limit: Int = 500) throws(MCRunError) -> [Event] {
        try read { db in try Ledger.events(db, after: cursor, ticket: ticket, kinds: kinds, limit: limit) }
    }

    static func events(_ db: Database, after cursor: Int64, ticket: String? = nil, kinds: [String] = [], limit: Int = 500) throws -> [Event] {
        var conditions = ["id > ?"]
        var arguments: [any DatabaseValueConvertible] = [cursor]
        if let ticket {
            conditions.append("ticket = ?")
            arguments.append(ticket)
        }
        if !kinds.isEmpty {
            conditions.append("kind IN (\(placeholders(kinds.count)))")
            arguments += kinds as [any DatabaseValueConvertible]
        }
        arguments.append(max(0, limit))
        return try Event.fetchAll(
            db, sql: "SELECT * FROM events WHERE \(conditions.joined(separator: " AND ")) ORDER BY id LIMIT ?", arguments: StatementArguments(arguments))
    }

    /// Whether `ticket` was unparked after `time` (a later unpark overrides an earlier park).
    static func unparked(_ db: Database, ticket: String, after time: Double) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM events WHERE ticket = ? AND kind = 'unpark' AND at > ?)", arguments: [ticket, time]) ?? false
    }

    /// Every event goes through here; ticket-level changes (park, escalation, kill switch)
    /// call it directly inside their own transaction.
    @discardableResult
    static func appendEvent(
        _ db: Database, kind: String, ticket: String? = nil, runtime: Runtime? = nil, from: RuntimeState? = nil,
        actor: String, reason: String? = nil, data: JSONValue = [:], now: Double = WallClock.now()
    ) throws -> Event {
        var event = Event(
            id: nil, at: now, kind: kind, ticket: ticket ?? runtime?.ticket, runtimeID: runtime?.id,
            episode: runtime?.episode, fromState: from?.rawValue, toState: runtime?.state.rawValue,
            actor: actor, reason: reason, data: data)
        try event.insert(db)
        return event
    }

    /// A ticket's latest `limit` events, newest first.
    static func latestEvents(_ db: Database, ticket: String, limit: Int) throws -> [Event] {
        try Event.fetchAll(db, sql: "SELECT * FROM events WHERE ticket = ? ORDER BY id DESC LIMIT ?", arguments: [ticket, max(0, limit)])
    }
}
