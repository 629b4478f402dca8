import Foundation
public import MCRunCore

extension Scratch {
    /// Stages what no mcrun command produces (a ticket's standing set by hand, an event of a
    /// given kind, a recorded start time that no longer matches) by running `sql` against
    /// this scratch's ledger with the `sqlite3` tool, as one IMMEDIATE transaction. The
    /// ledger is opened (and migrated) first; the edit is committed to the same WAL as
    /// mcrun's own writes, so the next read of any process sees it. `.timeout` makes sqlite3
    /// wait on a held lock as mcrun does instead of failing at once. Returns what the SQL
    /// printed (a `SELECT`'s rows).
    @discardableResult
    public func editLedger(_ sql: String) throws -> String {
        _ = try context()
        let result = try Subprocess.run(
            ["sqlite3", "-bail", "-cmd", ".timeout 10000", stateDir + "/ledger.sqlite", "BEGIN IMMEDIATE;\n\(sql)\nCOMMIT;"],
            timeoutMilliseconds: 30_000)
        guard result.succeeded else {
            throw ScratchError("sqlite3 could not edit the ledger (status \(result.status)): \(result.stderrText)")
        }
        return result.stdoutText
    }

    /// Records an event as if a command had (the input of event hooks); returns its id.
    @discardableResult
    public func stageEvent(_ kind: String, ticket: String, reason: String? = nil, data: JSONValue = [:]) throws -> Int64 {
        let output = try editLedger(
            """
            INSERT INTO events(at, kind, ticket, actor, reason, data)
            VALUES (\(WallClock.now()), \(sqlLiteral(kind)), \(sqlLiteral(ticket)), 'test', \(sqlLiteral(reason)), \(sqlLiteral(data.jsonText)));
            SELECT last_insert_rowid();
            """)
        guard let id = Int64(output.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw ScratchError("no event id from sqlite3: \(output)") }
        return id
    }
}

/// A string as an SQL literal ('it''s'), or NULL.
public func sqlLiteral(_ text: String?) -> String {
    guard let text else { return "NULL" }
    return "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
}
