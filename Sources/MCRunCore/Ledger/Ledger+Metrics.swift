import GRDB

/// Everything `mcrun metrics` exposes that the ledger knows, read in one transaction.
public struct LedgerMetrics: Sendable {
    /// Runtimes per state, every state present (0 when none).
    public var runtimesByState: [RuntimeState: Int] = [:]
    /// Events of each counted kind since the ledger was created.
    public var events: [String: Int] = [:]
    /// Seconds from the moment `serve` noticed a death to the transaction that recorded
    /// it, for every death it noticed (deaths found by a command carry no notice time).
    public var deathRecordSeconds: [Double] = []
    public var sendQueuePending = 0
    public var hookDeliveriesPending = 0
    public var hookDeliveriesFailed = 0
    public var ticketsEscalated = 0
    public var ticketsParked = 0
    public var relaunchesOwed = 0
    public var killSwitchOn = false
    /// Open host incidents by kind (every kind present, 0 when none open).
    public var incidentsOpen: [HostIncident.Kind: Int] = [:]
    /// Host incidents ever opened, by kind.
    public var incidentsTotal: [HostIncident.Kind: Int] = [:]
    public var heartbeat: ServeHeartbeat?
    /// Live runtimes with their cgroups, whose usage the exposition reads from the kernel.
    public var liveCgroups: [(ticket: String, episode: Int, cgroup: RuntimeCgroup)] = []
    /// Live runtimes that run without a cgroup (their leftovers are found by searching /proc).
    public var liveWithoutCgroup = 0

    /// The event kinds counted: deaths, silent relaunches, escalations, event hooks that
    /// failed for good, sessions found without a runtime.
    public static let countedEvents = ["death", "retry", "escalation", "hook_failed", "orphan"]
}

extension Ledger {
    public func metrics() throws(MCRunError) -> LedgerMetrics {
        try read { db in
            var m = LedgerMetrics()
            for state in RuntimeState.allCases { m.runtimesByState[state] = 0 }
            for row in try Row.fetchAll(db, sql: "SELECT state, count(*) AS n FROM runtimes GROUP BY state") {
                if let state = RuntimeState(rawValue: row["state"]) { m.runtimesByState[state] = row["n"] }
            }
            for kind in LedgerMetrics.countedEvents { m.events[kind] = 0 }
            let kinds = LedgerMetrics.countedEvents.map { "'\($0)'" }.joined(separator: ",")
            for row in try Row.fetchAll(db, sql: "SELECT kind, count(*) AS n FROM events WHERE kind IN (\(kinds)) GROUP BY kind") {
                m.events[row["kind"]] = row["n"]
            }
            m.deathRecordSeconds = try Double.fetchAll(
                db,
                sql: "SELECT at - json_extract(data, '$.noticed_at') FROM events WHERE kind = 'death' AND json_extract(data, '$.noticed_at') IS NOT NULL")
            m.sendQueuePending = try Int.fetchOne(db, sql: "SELECT count(*) FROM send_queue WHERE state = 'pending'") ?? 0
            m.hookDeliveriesPending = try Int.fetchOne(db, sql: "SELECT count(*) FROM hook_deliveries WHERE state = 'pending'") ?? 0
            m.hookDeliveriesFailed = try Int.fetchOne(db, sql: "SELECT count(*) FROM hook_deliveries WHERE state = 'failed'") ?? 0
            m.ticketsEscalated = try Int.fetchOne(db, sql: "SELECT count(*) FROM tickets WHERE escalated = 1") ?? 0
            m.ticketsParked = try Int.fetchOne(db, sql: "SELECT count(*) FROM tickets WHERE parked = 1") ?? 0
            m.relaunchesOwed = try Int.fetchOne(db, sql: "SELECT count(*) FROM pending_retries") ?? 0
            m.killSwitchOn = try Ledger.killSwitch(db).on
            for kind in HostIncident.Kind.allCases {
                m.incidentsOpen[kind] = 0
                m.incidentsTotal[kind] = 0
            }
            // A ledger older than host incidents has none.
            let incidents = (try? Row.fetchAll(db, sql: "SELECT kind, count(*) AS n, sum(ended_at IS NULL) AS open FROM host_incidents GROUP BY kind")) ?? []
            for row in incidents {
                guard let kind = HostIncident.Kind(rawValue: row["kind"]) else { continue }
                m.incidentsTotal[kind] = row["n"]
                m.incidentsOpen[kind] = row["open"]
            }
            m.heartbeat = try Self.serveHeartbeat(db)
            for row in try Row.fetchAll(
                db, sql: "SELECT ticket, episode, cgroup, cgroup_missing FROM runtimes WHERE state IN ('launching', 'running', 'stopping')")
            {
                if let cgroup = Runtime.decodeJSON(RuntimeCgroup.self, row["cgroup"]) {
                    m.liveCgroups.append((row["ticket"], row["episode"], cgroup))
                } else if (row["cgroup_missing"] as String?) != nil {
                    m.liveWithoutCgroup += 1
                }
            }
            return m
        }
    }
}
