import Foundation
import GRDB

/// What `serve` leaves for operators to read without asking it: the time of its last full
/// pass and its status line, one row rewritten after each pass.
public struct ServeHeartbeat: Sendable, Equatable {
    public var pid: Int32
    public var startedAt: Double
    public var lastPassAt: Double
    public var status: String

    public init(pid: Int32, startedAt: Double, lastPassAt: Double, status: String) {
        self.pid = pid
        self.startedAt = startedAt
        self.lastPassAt = lastPassAt
        self.status = status
    }
}

/// The answer of `PRAGMA quick_check` on a ledger opened read-only.
public struct LedgerIntegrity: Sendable, Equatable {
    public var ok: Bool
    /// "ok", or SQLite's first complaints, or why the file could not be opened.
    public var detail: String
}

/// Where a host setting's effective value comes from.
public enum SettingSource: String, Sendable {
    /// Not set: the built-in default applies.
    case `default`
    /// Set with `mcrun config KEY VALUE`.
    case ledger
    /// Set by a flag of `mcrun serve` (stored in the ledger, like every setting).
    case flag
    /// Set by `mcrun serve` from the configuration file (mcrun.conf).
    case file
}

extension Ledger {
    public func recordHeartbeat(_ heartbeat: ServeHeartbeat) throws(MCRunError) {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO serve_heartbeat(id, pid, started_at, last_pass_at, status) VALUES (1, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET pid = excluded.pid, started_at = excluded.started_at,
                        last_pass_at = excluded.last_pass_at, status = excluded.status
                    """,
                arguments: [heartbeat.pid, heartbeat.startedAt, heartbeat.lastPassAt, heartbeat.status])
        }
    }

    public func serveHeartbeat() throws(MCRunError) -> ServeHeartbeat? {
        try read { db in try Self.serveHeartbeat(db) }
    }

    static func serveHeartbeat(_ db: Database) throws -> ServeHeartbeat? {
        try Row.fetchOne(db, sql: "SELECT pid, started_at, last_pass_at, status FROM serve_heartbeat WHERE id = 1").map {
            ServeHeartbeat(pid: $0["pid"], startedAt: $0["started_at"], lastPassAt: $0["last_pass_at"], status: $0["status"])
        }
    }

    /// Each asked setting's stored value and where it came from (a `serve` flag or the
    /// configuration file leaves `source: flag` or `file` on its config event).
    public func settingSources(_ keys: [HostConfig.Key]) throws(MCRunError) -> [(key: HostConfig.Key, value: String?, source: SettingSource)] {
        try read { db in
            try keys.map { key in
                guard let value = try HostConfig.value(db, key) else { return (key, nil, .default) }
                let source = try String.fetchOne(
                    db,
                    sql: "SELECT json_extract(data, '$.source') FROM events WHERE kind = 'config' AND json_extract(data, '$.key') = ? ORDER BY id DESC LIMIT 1",
                    arguments: [key.rawValue])
                return (key, value, source.flatMap(SettingSource.init(rawValue:)) ?? .ledger)
            }
        }
    }

    /// What `doctor` reads of a ledger, through a read-only connection of its own: nothing
    /// is created, migrated or written, so a damaged ledger is examined as it is.
    public struct Inspection: Sendable {
        /// `PRAGMA quick_check`.
        public var integrity: LedgerIntegrity
        /// nil when the ledger predates the heartbeat or `serve` never completed a pass.
        public var heartbeat: ServeHeartbeat?
        /// Migrations this binary knows that the file has not had yet (the next writer applies them).
        public var pendingMigrations: [String]
        /// Open host incidents (the tmux server lost, the breaker).
        public var incidents: [HostIncident] = []
    }

    public static func inspect(path: String) -> Inspection {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(5)
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            defer { try? queue.close() }
            return try queue.read { db in
                let lines = try String.fetchAll(db, sql: "PRAGMA quick_check(5)")
                let ok = lines == ["ok"]
                let integrity = LedgerIntegrity(ok: ok, detail: ok ? "ok" : lines.joined(separator: "; "))
                guard ok else { return Inspection(integrity: integrity, heartbeat: nil, pendingMigrations: []) }
                let applied = Set(try migrator.appliedIdentifiers(db))
                let pending = migrator.migrations.filter { !applied.contains($0) }
                let heartbeat = applied.contains("v8-ops") ? try serveHeartbeat(db) : nil
                let incidents = applied.contains("v10-host-incidents") ? try openIncidents(db) : []
                return Inspection(integrity: integrity, heartbeat: heartbeat, pendingMigrations: pending, incidents: incidents)
            }
        } catch let error as DatabaseError {
            return Inspection(integrity: LedgerIntegrity(ok: false, detail: error.message ?? "\(error.resultCode)"), heartbeat: nil, pendingMigrations: [])
        } catch {
            return Inspection(integrity: LedgerIntegrity(ok: false, detail: "\(error)"), heartbeat: nil, pendingMigrations: [])
        }
    }
}
