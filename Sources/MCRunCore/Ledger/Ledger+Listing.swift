import GRDB

/// The reads `ps`, `show`, `logs` and `harvest` answer from: each one read transaction, so
/// what they print is one consistent moment of the ledger.
extension Ledger {
    /// A ticket as `ps` lists it: its newest episode, the ticket row, and the relaunch owed
    /// to it, if any.
    public struct ListedTicket: Sendable {
        public var runtime: Runtime
        public var ticket: Ticket
        public var relaunch: PendingRetry?
        /// The latest message sent to a live runtime, direct or queued.
        public var lastSend: QueuedMessage?

        /// Listed by default: live, or a person or the service still owes it something.
        public var needsAttention: Bool {
            runtime.state.isLive || ticket.escalated || ticket.parked || relaunch != nil
        }
    }

    public struct Listing: Sendable {
        public var tickets: [ListedTicket]
        public var busySettings: Activity.Settings
        /// The configured harvest timeout in seconds; nil is off.
        public var harvestTimeout: Double?
        /// Open host incidents (none on a ledger older than they are).
        public var incidents: [HostIncident] = []
    }

    /// The newest episode of each ticket with its ticket row and owed relaunch, and the
    /// settings `ps` judges them by. One query per table, whatever the number of tickets.
    /// By default only tickets that need attention; `includeEnded` lists every ticket.
    public func listing(includeEnded: Bool, environment: [String: String]) throws(MCRunError) -> Listing {
        try read { db in
            let runtimes = try Runtime.fetchAll(
                db,
                sql: """
                    SELECT \(Runtime.listingColumns) FROM runtimes r
                    JOIN (SELECT ticket, max(episode) AS episode FROM runtimes GROUP BY ticket) latest
                      ON latest.ticket = r.ticket AND latest.episode = r.episode
                    ORDER BY r.ticket
                    """)
            let tickets = Dictionary(uniqueKeysWithValues: try Ticket.fetchAll(db).map { ($0.id, $0) })
            let relaunches = Dictionary(uniqueKeysWithValues: try PendingRetry.fetchAll(db).map { ($0.ticket, $0) })
            let lastSends = try Ledger.lastMessagesOfLiveRuntimes(db)
            let listed = runtimes.compactMap { runtime -> ListedTicket? in
                guard let ticket = tickets[runtime.ticket] else { return nil }
                let row = ListedTicket(
                    runtime: runtime, ticket: ticket, relaunch: relaunches[runtime.ticket], lastSend: runtime.id.flatMap { lastSends[$0] })
                return includeEnded || row.needsAttention ? row : nil
            }
            return Listing(
                tickets: listed, busySettings: try Activity.Settings.load(db),
                harvestTimeout: try HarvestTimeout.limit(db, environment: environment), incidents: (try? Ledger.openIncidents(db)) ?? [])
        }
    }

    /// Everything `show` prints about a ticket.
    public struct TicketHistory: Sendable {
        public var ticket: Ticket
        /// Newest first.
        public var episodes: [Runtime]
        /// The latest `eventLimit` events, oldest first.
        public var events: [Event]
        /// The newest episode's messages (sends and queued), the latest 50, oldest first.
        public var queue: [QueuedMessage]
        public var refusals: [Refusal]
        public var relaunch: PendingRetry?
    }

    /// A ticket's history; nil when the ticket is not known.
    public func ticketHistory(_ id: String, eventLimit: Int) throws(MCRunError) -> TicketHistory? {
        try read { db in
            guard let ticket = try Ledger.ticket(db, id: id) else { return nil }
            let episodes = try Ledger.episodes(db, ticket: id)
            let events = try Ledger.latestEvents(db, ticket: id, limit: eventLimit)
            let queue = try episodes.first.map { try QueuedMessage.list(db, runtimeID: $0.id!) } ?? []
            return TicketHistory(
                ticket: ticket, episodes: episodes, events: events.reversed(), queue: queue,
                refusals: try Ledger.refusals(db, ticket: id), relaunch: try Ledger.pendingRetry(db, ticket: id))
        }
    }

    /// The ticket's given episode, or its newest when `episode` is nil.
    public func runtime(ticket: String, episode: Int?) throws(MCRunError) -> Runtime? {
        try read { db in
            if let episode { return try Ledger.runtime(db, ticket: ticket, episode: episode) }
            return try Ledger.latestRuntime(db, ticket: ticket)
        }
    }

    public func runtime(id: Int64) throws(MCRunError) -> Runtime? {
        try read { db in try Ledger.runtime(db, id: id) }
    }

    /// What `harvest` needs beside the runtime: its ticket, the standing verdict and the
    /// configured harvest timeout.
    public struct HarvestFacts: Sendable {
        public var ticket: Ticket?
        public var verdict: CompletionSignal?
        public var harvestTimeout: Double?
    }

    public func harvestFacts(for runtime: Runtime, environment: [String: String]) throws(MCRunError) -> HarvestFacts {
        try read { db in
            HarvestFacts(
                ticket: try Ledger.ticket(db, id: runtime.ticket),
                verdict: try CompletionSignals.standing(db, runtimeID: runtime.id!),
                harvestTimeout: try HarvestTimeout.limit(db, environment: environment))
        }
    }
}
