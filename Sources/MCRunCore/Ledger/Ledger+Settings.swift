import GRDB
import GRDBSQLite

extension Ledger {
    /// Whether the kill switch is on, why and since when.
    public func killSwitchState() throws(MCRunError) -> KillSwitch.State {
        try read { db in try Ledger.killSwitch(db) }
    }

    /// The stored value of each setting, in the order asked; nil where unset.
    public func settings(_ keys: [HostConfig.Key]) throws(MCRunError) -> [(key: HostConfig.Key, value: String?)] {
        try read { db in try keys.map { ($0, try HostConfig.value(db, $0)) } }
    }

    static func setting(_ db: Database, _ key: Setting) throws -> String? {
        try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [key.rawValue])
    }

    static func setSetting(_ db: Database, _ key: Setting, _ value: String?, now: Double = WallClock.now()) throws {
        if let value {
            try db.execute(
                sql:
                    "INSERT INTO settings(key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                arguments: [key.rawValue, value, now])
        } else {
            try db.execute(sql: "DELETE FROM settings WHERE key = ?", arguments: [key.rawValue])
        }
    }

    /// The kill switch as every check sees it: the ledger's, or else one turned on while the
    /// ledger could not be written and held in the state directory's reserve.
    static func killSwitch(_ db: Database) throws -> KillSwitch.State {
        let recorded = try recordedKillSwitch(db)
        if recorded.on { return recorded }
        guard let held = reserve(db)?.killSwitch() else { return recorded }
        return KillSwitch.State(on: true, reason: held.reason, since: held.at, unrecorded: true)
    }

    /// The kill switch as the ledger alone records it.
    static func recordedKillSwitch(_ db: Database) throws -> KillSwitch.State {
        guard let row = try Row.fetchOne(db, sql: "SELECT value, updated_at FROM settings WHERE key = ?", arguments: [Setting.killswitch.rawValue]) else {
            return KillSwitch.State(on: false, reason: nil, since: nil)
        }
        return KillSwitch.State(on: true, reason: row["value"], since: row["updated_at"])
    }

    /// The reserve beside this connection's ledger file; nil for a ledger kept in memory.
    static func reserve(_ db: Database) -> IntentReserve? {
        guard let name = sqlite3_db_filename(db.sqliteConnection, "main"), name.pointee != 0 else { return nil }
        return IntentReserve(ledgerPath: String(cString: name))
    }
}
