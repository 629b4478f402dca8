import GRDB

/// Host incidents (`host_incidents`): opened once per cause, closed when it goes away.
extension Ledger {
    static func hostIncident(_ row: Row) -> HostIncident {
        let tickets = (JSONValue.parse(row["tickets"] as String? ?? "[]")?.arrayValue ?? []).compactMap(\.stringValue)
        return HostIncident(
            id: row["id"], kind: HostIncident.Kind(rawValue: row["kind"]) ?? .tmuxLost, cause: row["cause"], startedAt: row["started_at"],
            endedAt: row["ended_at"], closedBy: row["closed_by"], closeReason: row["close_reason"], tickets: tickets,
            runtimes: row["runtimes"], probeRuntimeID: row["probe_runtime_id"], nextProbeAt: row["next_probe_at"])
    }

    /// The open incident of `kind`, if any.
    static func openIncident(_ db: Database, kind: HostIncident.Kind) throws -> HostIncident? {
        try Row.fetchOne(db, sql: "SELECT * FROM host_incidents WHERE kind = ? AND ended_at IS NULL", arguments: [kind.rawValue]).map(hostIncident)
    }

    static func openIncidents(_ db: Database) throws -> [HostIncident] {
        try Row.fetchAll(db, sql: "SELECT * FROM host_incidents WHERE ended_at IS NULL ORDER BY id").map(hostIncident)
    }

    /// When the last incident of `kind` closed; 0 when none has.
    static func lastIncidentClosed(_ db: Database, kind: HostIncident.Kind) throws -> Double {
        try Double.fetchOne(db, sql: "SELECT max(ended_at) FROM host_incidents WHERE kind = ?", arguments: [kind.rawValue]) ?? 0
    }

    static func insertIncident(_ db: Database, kind: HostIncident.Kind, cause: String, tickets: [String], runtimes: Int, nextProbeAt: Double?, now: Double)
        throws -> HostIncident
    {
        try db.execute(
            sql: "INSERT INTO host_incidents(kind, cause, started_at, tickets, runtimes, next_probe_at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [kind.rawValue, cause, now, JSONValue(tickets).jsonText, runtimes, nextProbeAt])
        return HostIncident(
            id: db.lastInsertedRowID, kind: kind, cause: cause, startedAt: now, tickets: tickets, runtimes: runtimes, nextProbeAt: nextProbeAt)
    }

    /// Ends an open incident: its row closed and one `host_incident_closed` event, with
    /// `data` beside the incident's id, kind and length.
    static func closeIncident(
        _ db: Database, _ open: inout HostIncident, by actor: String, reason: String, data extra: [String: JSONValue] = [:], now: Double
    ) throws {
        open.endedAt = now
        open.closedBy = actor
        open.closeReason = reason
        open.probeRuntimeID = nil
        try updateIncident(db, open)
        let data: [String: JSONValue] = ["incident_id": .int(open.id), "kind": .string(open.kind.rawValue), "lasted_seconds": .double(now - open.startedAt)]
        try appendEvent(db, kind: "host_incident_closed", actor: actor, reason: reason, data: .object(data.merging(extra) { $1 }), now: now)
    }

    static func updateIncident(_ db: Database, _ incident: HostIncident) throws {
        try db.execute(
            sql: """
                UPDATE host_incidents SET cause = ?, ended_at = ?, closed_by = ?, close_reason = ?, tickets = ?, runtimes = ?,
                    probe_runtime_id = ?, next_probe_at = ? WHERE id = ?
                """,
            arguments: [
                incident.cause, incident.endedAt, incident.closedBy, incident.closeReason, JSONValue(incident.tickets).jsonText, incident.runtimes,
                incident.probeRuntimeID, incident.nextProbeAt, incident.id,
            ])
    }

    /// Agents that exited on their own with a non-zero code within `fastSeconds` of
    /// starting, ended after `since`, newest first (the breaker's evidence).
    static func fastDeaths(_ db: Database, since: Double, fastSeconds: Double) throws -> [Runtime] {
        try Runtime.fetchAll(
            db,
            sql: """
                SELECT * FROM runtimes WHERE state = 'dead' AND ended_at > ? AND started_at IS NOT NULL
                    AND ended_at - started_at <= ? AND end_reason = 'agent_exited' AND exit_signal IS NULL AND exit_code <> 0
                    ORDER BY ended_at DESC
                """,
            arguments: [since, fastSeconds])
    }

    /// Whether `ticket`'s standing was cleared after `time` (a reset, or a runtime that
    /// completed): a death before that no longer counts, so it cannot be taken back.
    static func standingCleared(_ db: Database, ticket: String, after time: Double) throws -> Bool {
        try Bool.fetchOne(
            db,
            sql: """
                SELECT EXISTS (SELECT 1 FROM events WHERE ticket = ? AND kind IN ('reset', 'completion') AND at > ?)
                    OR EXISTS (SELECT 1 FROM runtimes WHERE ticket = ? AND state = 'completed' AND ended_at > ?)
                """,
            arguments: [ticket, time, ticket, time]) ?? false
    }

    /// The ticket's newest dead runtime (the evidence of its fast death).
    static func latestDeath(_ db: Database, ticket: String) throws -> Runtime? {
        try Runtime.fetchOne(db, sql: "SELECT * FROM runtimes WHERE ticket = ? AND state = 'dead' ORDER BY episode DESC LIMIT 1", arguments: [ticket])
    }

    /// Relaunches held for `reason` are no longer held, and are due now: the hold was the
    /// host's, and the delay after the death has passed while it lasted or no longer matters.
    static func releaseHeldRetries(_ db: Database, reason: String, now: Double = WallClock.now()) throws {
        try db.execute(
            sql: "UPDATE pending_retries SET held_reason = NULL, held_since = NULL, due_at = min(due_at, ?) WHERE held_reason = ?", arguments: [now, reason])
    }

    /// Whether any relaunch is held for `reason`.
    static func hasHeldRetries(_ db: Database, reason: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM pending_retries WHERE held_reason = ?)", arguments: [reason]) ?? false
    }

    /// The open host incidents, oldest first.
    public func openIncidents() throws(MCRunError) -> [HostIncident] {
        try read { db in try Ledger.openIncidents(db) }
    }

    /// The latest incidents, newest first.
    public func incidents(limit: Int = 20) throws(MCRunError) -> [HostIncident] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM host_incidents ORDER BY id DESC LIMIT ?", arguments: [max(0, limit)]).map(Ledger.hostIncident)
        }
    }
}
