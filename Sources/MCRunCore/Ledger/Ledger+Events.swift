public import GRDB

extension Ledger {
    /// Events after `cursor` in id order, at most `limit`: only `ticket`'s when given, only
    /// the given kinds when any. Ids are assigned under the single writer lock, so a reader
    /// that resumes from the last id it saw never skips a later commit.
    public func events(after cursor: Int64, ticket: String? = nil, kinds: [String] = [], limit: Int = 500) throws(MCRunError) -> [Event] {
        try read { db in try Ledger.events(db, after: cursor, ticket: ticket, kinds: kinds, limit: limit) }
    }

    public static func events(_ db: Database, after cursor: Int64, ticket: String? = nil, kinds: [String] = [], limit: Int = 500) throws -> [Event] {
        var request = Event.filter(Event.Columns.id > cursor)
        if let ticket { request = request.filter(Event.Columns.ticket == ticket) }
        if !kinds.isEmpty { request = request.filter(kinds.contains(Event.Columns.kind)) }
        return try request.order(Event.Columns.id).limit(max(0, limit)).fetchAll(db)
    }
}
