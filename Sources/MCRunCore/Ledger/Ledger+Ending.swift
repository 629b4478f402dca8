import GRDB

extension Ledger {
    /// Rewrites only the stored terminal record of a runtime (the rest of the row is unchanged).
    static func setTerminalRecord(_ db: Database, runtimeID: Int64, _ record: TerminalRecord?) throws {
        try db.execute(
            sql: "UPDATE runtimes SET terminal_record = ? WHERE id = ?",
            arguments: [record.flatMap { Runtime.encodeJSON($0) }, runtimeID])
    }

    /// Ended runtimes whose teardown is not finished.
    static func teardownsOwed(_ db: Database, ticket: String?) throws -> [Runtime] {
        if let ticket {
            return try Runtime.fetchAll(db, sql: "SELECT * FROM runtimes WHERE teardown_owed = 1 AND ticket = ?", arguments: [ticket])
        }
        return try Runtime.fetchAll(db, sql: "SELECT * FROM runtimes WHERE teardown_owed = 1")
    }

    /// How many relaunches of the owed retry for `previous` failed to launch.
    static func failedRelaunches(_ db: Database, of previous: Int64) throws -> Int {
        try Int.fetchOne(
            db, sql: "SELECT count(*) FROM runtimes WHERE relaunch_of = ? AND state = 'launch_failed' AND end_reason IS NOT 'tmux_down'", arguments: [previous])
            ?? 0
    }
}
