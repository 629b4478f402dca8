import Foundation
import Glibc
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

/// The ledger's write lock, held by a real sqlite3 process in an open transaction.
public struct LedgerLock: Sendable {
    let holder: Subprocess.Child

    /// Ends the holder; the transaction rolls back. Safe to call more than once.
    public func release() {
        kill(holder.pid, SIGKILL)
        _ = holder.collect(stdin: nil, timeoutMilliseconds: 5_000)
    }
}

extension Scratch {
    /// Has another process take this scratch's ledger write lock (`exclusive`: readers
    /// too, outside WAL's snapshots) and hold it until `release()` or cleanup. Returns once
    /// the lock is held.
    public func holdLedgerLock(exclusive: Bool = false) throws -> LedgerLock {
        let holder = try Subprocess.spawn([
            "sqlite3", "-cmd", ".timeout 5000", "-cmd", exclusive ? "BEGIN EXCLUSIVE" : "BEGIN IMMEDIATE",
            "-cmd", "INSERT INTO settings VALUES ('held-by-test','1',0)", stateDir + "/ledger.sqlite",
        ])
        let lock = LedgerLock(holder: holder)
        onCleanup { lock.release() }
        try waitUntil("sqlite3 holds the ledger's write lock") { try ledgerIsLocked() }
        return lock
    }

    /// Whether another process holds the ledger's write lock now.
    public func ledgerIsLocked() throws -> Bool {
        !(try Subprocess.run(["sqlite3", "-cmd", ".timeout 0", stateDir + "/ledger.sqlite", "BEGIN IMMEDIATE; ROLLBACK;"]).succeeded)
    }
}
