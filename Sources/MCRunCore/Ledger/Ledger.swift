import GRDB
import Glibc

/// The SQLite file that is the source of truth: runtimes, tickets, events, settings.
/// WAL mode, so `ps` never waits for a writer; every write is one IMMEDIATE transaction, so
/// a compare-and-set inside it is atomic across processes.
public final class Ledger: Sendable {
    /// A pool for commands that write; one read-only connection for those that only read.
    let database: any DatabaseWriter
    public let path: String

    /// Seconds a writer waits for the lock before the operation fails (and, for admission,
    /// fails closed). `MCRUN_BUSY_TIMEOUT` (a duration up to 1h, bare seconds) overrides the
    /// default; a value outside that is ignored, since SQLite's timeout must fit its integer.
    public static func defaultBusyTimeout(environment: [String: String]) -> Double {
        environment["MCRUN_BUSY_TIMEOUT"].flatMap { DurationText.milliseconds($0, in: 0...DurationText.hour) }.map { Double($0) / 1000 } ?? 5
    }

    /// Opened by `Ledger(directory:)` for commands that write, or by `Ledger(readingFrom:)`
    /// for those that only read (see Ledger+Opening.swift).
    init(database: any DatabaseWriter, path: String) {
        self.database = database
        self.path = path
    }

    func write<T>(_ body: (Database) throws -> T) throws(MCRunError) -> T {
        do {
            return try database.write(body)
        } catch let error as MCRunError {
            throw error
        } catch {
            throw Self.map(error, doing: "write the ledger")
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws(MCRunError) -> T {
        do {
            return try database.read(body)
        } catch let error as MCRunError {
            throw error
        } catch {
            throw Self.map(error, doing: "read the ledger")
        }
    }

    /// Lock timeouts, corruption and unreadable files all mean the ledger cannot answer;
    /// callers that admit work turn this into a refusal, never into "nothing is running".
    static func map(_ error: any Error, doing what: String) -> MCRunError {
        if let error = error as? MCRunError { return error }
        if let db = error as? DatabaseError {
            switch db.resultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                return MCRunError(
                    .internalError, "ledger_busy", "cannot \(what): the ledger stayed locked past the busy timeout; retry, or find the process holding it",
                    cause: error)
            case .SQLITE_CORRUPT, .SQLITE_NOTADB, .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY, .SQLITE_IOERR, .SQLITE_AUTH, .SQLITE_FULL:
                return MCRunError(
                    .internalError, "ledger_unavailable", "cannot \(what): \(db.message ?? "\(db.resultCode)"); check the file and its permissions",
                    cause: error)
            default:
                break
            }
        }
        return MCRunError(.internalError, "ledger_error", "cannot \(what)", cause: error)
    }
}

// MARK: - Reads shared by every command

extension Ledger {
    /// SQL list of the live states, for queries (the partial unique index spells it out).
    static let liveStates = "(" + RuntimeState.allCases.filter(\.isLive).map { "'\($0.rawValue)'" }.joined(separator: ",") + ")"

    /// `?, ?, ?`: one placeholder per argument of an `IN (...)` list.
    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }

    /// The ticket's live runtime, if any (at most one, by the unique index).
    static func liveRuntime(_ db: Database, ticket: String) throws -> Runtime? {
        try Runtime.fetchOne(db, sql: "SELECT * FROM runtimes WHERE ticket = ? AND state IN \(liveStates)", arguments: [ticket])
    }

    /// The ticket's newest episode, live or ended.
    static func latestRuntime(_ db: Database, ticket: String) throws -> Runtime? {
        try Runtime.fetchOne(db, sql: "SELECT * FROM runtimes WHERE ticket = ? ORDER BY episode DESC LIMIT 1", arguments: [ticket])
    }

    static func runtime(_ db: Database, ticket: String, episode: Int) throws -> Runtime? {
        try Runtime.fetchOne(db, sql: "SELECT * FROM runtimes WHERE ticket = ? AND episode = ?", arguments: [ticket, episode])
    }

    /// Every episode of the ticket, newest first.
    static func episodes(_ db: Database, ticket: String) throws -> [Runtime] {
        try Runtime.fetchAll(db, sql: "SELECT * FROM runtimes WHERE ticket = ? ORDER BY episode DESC", arguments: [ticket])
    }

    static func runtime(_ db: Database, id: Int64) throws -> Runtime? {
        try Runtime.fetchOne(db, key: id)
    }

    static func ticket(_ db: Database, id: String) throws -> Ticket? {
        try Ticket.fetchOne(db, key: id)
    }

    /// Fetches or creates the ticket row.
    static func ensureTicket(_ db: Database, id: String, now: Double) throws -> Ticket {
        if let t = try Ticket.fetchOne(db, key: id) { return t }
        var t = Ticket(id: id, now: now)
        try t.insert(db)
        return t
    }

    /// Writes back a runtime read with its nonce and environment (not one read for listing).
    static func updateRuntime(_ db: Database, _ runtime: Runtime) throws {
        try runtime.update(db)
    }

    /// Inserts a newly admitted runtime; false when the one-live-runtime-per-ticket index
    /// refused it (another runtime of the ticket is live).
    static func admitRuntime(_ db: Database, _ runtime: inout Runtime) throws -> Bool {
        do {
            try runtime.insert(db)
            return true
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            return false
        }
    }

    static func updateTicket(_ db: Database, _ ticket: Ticket) throws {
        try ticket.update(db)
    }

    static func liveCount(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM runtimes WHERE state IN \(liveStates)") ?? 0
    }
}

// MARK: - Small writes of the launch path

extension Ledger {
    /// The next episode number of a ticket.
    static func nextEpisode(_ db: Database, ticket: String) throws -> Int {
        (try Int.fetchOne(db, sql: "SELECT max(episode) FROM runtimes WHERE ticket = ?", arguments: [ticket]) ?? 0) + 1
    }

    /// Where tmux put a new runtime's session, and why its pane has no log if it has none;
    /// not a state change.
    func recordSession(runtimeID: Int64, sessionID: String, paneID: String, paneLogMissing: String?) throws(MCRunError) {
        try write { db in
            try db.execute(
                sql: "UPDATE runtimes SET session_id = ?, pane_id = ?, pane_log_missing = ? WHERE id = ?",
                arguments: [sessionID, paneID, paneLogMissing, runtimeID])
        }
    }
}
