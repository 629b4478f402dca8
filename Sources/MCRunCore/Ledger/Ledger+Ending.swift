import GRDB

extension Ledger {
    /// Rewrites only the stored terminal record of a runtime (the rest of the row is unchanged).
    static func setTerminalRecord(_ db: Database, runtimeID: Int64, _ record: TerminalRecord?) throws {
        try db.execute(
            sql: "UPDATE runtimes SET terminal_record = ? WHERE id = ?",
            arguments: [record.flatMap { Runtime.encodeJSON($0) }, runtimeID])
    }
}
