import GRDB

/// The reads and small writes the service's loop makes, by name.
extension Ledger {
    /// What one reconcile pass reports: counts for STATUS= and the relaunches owed.
    public struct PassView: Sendable {
        public var live: Int
        public var busy: Int
        public var escalated: Int
        public var retries: [PendingRetry]
        /// Open host incidents (the tmux server lost, the breaker), oldest first.
        public var incidents: [HostIncident] = []
        /// Live runtimes without a cgroup of their own, and why the newest has none.
        public var withoutCgroup = 0
        public var cgroupMissing: String?
    }

    /// Every runtime in a live state (launching, running, stopping).
    public func liveRuntimes() throws(MCRunError) -> [Runtime] {
        try read { db in try Runtime.fetchAll(db, sql: "SELECT * FROM runtimes WHERE state IN \(Ledger.liveStates)") }
    }

    /// Every runtime recorded running.
    public func runningRuntimes() throws(MCRunError) -> [Runtime] {
        try read { db in try Runtime.fetchAll(db, sql: "SELECT * FROM runtimes WHERE state = 'running'") }
    }

    public func runtimes(ids: [Int64]) throws(MCRunError) -> [Runtime] {
        try read { db in try Runtime.fetchAll(db, keys: ids) }
    }

    public func ticket(id: String) throws(MCRunError) -> Ticket? {
        try read { db in try Ledger.ticket(db, id: id) }
    }

    /// The newest runtime of each of these session names.
    public func runtimes(sessionNames names: [String]) throws(MCRunError) -> [String: Runtime] {
        try read { db in
            let rows = try Runtime.fetchAll(
                db, sql: "SELECT * FROM runtimes WHERE session_name IN (\(Ledger.placeholders(names.count)))", arguments: StatementArguments(names))
            return Dictionary(rows.map { ($0.sessionName, $0) }, uniquingKeysWith: { a, b in a.episode >= b.episode ? a : b })
        }
    }

    public func passView() throws(MCRunError) -> PassView {
        try read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT (SELECT count(*) FROM runtimes WHERE state IN \(Ledger.liveStates)) AS live,
                           (SELECT count(*) FROM runtimes WHERE state = 'running' AND busy = 1) AS busy,
                           (SELECT count(*) FROM tickets WHERE escalated = 1) AS escalated,
                           (SELECT count(*) FROM runtimes WHERE state IN \(Ledger.liveStates) AND cgroup_missing IS NOT NULL) AS uncontained,
                           (SELECT cgroup_missing FROM runtimes WHERE state IN \(Ledger.liveStates) AND cgroup_missing IS NOT NULL
                            ORDER BY id DESC LIMIT 1) AS why
                    """)
            var view = PassView(
                live: row?["live"] ?? 0, busy: row?["busy"] ?? 0, escalated: row?["escalated"] ?? 0, retries: try Ledger.pendingRetries(db),
                incidents: try Ledger.openIncidents(db))
            view.withoutCgroup = row?["uncontained"] ?? 0
            view.cgroupMissing = row?["why"]
            return view
        }
    }

    /// Ended runtimes whose teardown is not finished.
    public func teardownsOwed() throws(MCRunError) -> [Runtime] {
        try read { db in try Ledger.teardownsOwed(db, ticket: nil) }
    }

    public func pendingRetry(ticket: String) throws(MCRunError) -> PendingRetry? {
        try read { db in try Ledger.pendingRetry(db, ticket: ticket) }
    }

    /// A session no runtime owns, recorded once per (session id, pane pid).
    public func recordOrphan(_ pane: TmuxServer.Pane, actor: String) throws(MCRunError) -> Bool {
        try write { db in
            let already =
                try Int.fetchOne(
                    db,
                    sql:
                        "SELECT count(*) FROM events WHERE kind = 'orphan' AND json_extract(data, '$.session_id') = ? AND json_extract(data, '$.pane_pid') = ?",
                    arguments: [pane.sessionID, Int(pane.panePID)]) ?? 0
            guard already == 0 else { return false }
            try Ledger.appendEvent(
                db, kind: "orphan", actor: actor, reason: "session_without_runtime",
                data: [
                    "session": .string(pane.sessionName), "session_id": .string(pane.sessionID),
                    "pane": .string(pane.paneID), "pane_pid": .int(Int64(pane.panePID)),
                ])
            return true
        }
    }
}
