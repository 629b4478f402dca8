package import GRDB
import Glibc

/// The SQLite file that is the source of truth: runtimes, tickets, events, settings.
/// WAL mode, so `ps` never waits for a writer; every write is one IMMEDIATE transaction, so
/// a compare-and-set inside it is atomic across processes.
public final class Ledger: Sendable {
    let pool: DatabasePool
    public let path: String

    /// Seconds a writer waits for the lock before the operation fails (and, for admission,
    /// fails closed). `MCRUN_BUSY_TIMEOUT` overrides the default.
    public static func defaultBusyTimeout(environment: [String: String]) -> Double {
        environment["MCRUN_BUSY_TIMEOUT"].flatMap(Double.init) ?? 5
    }

    public init(directory: StateDirectory, busyTimeout: Double = 5) throws(MCRunError) {
        path = directory.ledgerPath
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.label = "mcrun-ledger"
        config.prepareDatabase { db in
            // NORMAL in WAL mode: a committed transaction survives any crash or kill of mcrun;
            // only a power loss may drop the last few.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        do {
            // The common case: an up-to-date ledger, opened without taking any write lock.
            if Self.fileSize(path) > 0 {
                let pool = try DatabasePool(path: path, configuration: config)
                if try pool.read({ db in try Self.migrator.hasCompletedMigrations(db) }) {
                    self.pool = pool
                    return
                }
            }
        } catch {
            throw Self.map(error, doing: "open the ledger at \(path)")
        }
        // Creation and migrations are serialised across processes: twenty concurrent
        // `mcrun start` on a fresh directory must not race to create the same tables.
        let lock = open(directory.migrationLockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else {
            throw MCRunError(.internalError, "ledger_unavailable", "cannot open \(directory.migrationLockPath): \(String(cString: strerror(errno)))")
        }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 && errno == EINTR {}
        // SQLite gives the -wal and -shm files the main file's mode, so creating it 0600 keeps
        // all three private. Only a file that does not exist yet is opened here (see `fileSize`).
        if Self.fileSize(path) < 0 {
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 { close(fd) }
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try Self.migrator.migrate(pool)
        } catch {
            throw Self.map(error, doing: "open the ledger at \(path)")
        }
    }

    /// The file's size, -1 when it does not exist. Read with stat(2), never by opening the
    /// file: closing any descriptor of the ledger drops every POSIX lock this process holds
    /// on it, those of its open SQLite connections included. Another process closing its
    /// connection would then take itself for the last one, checkpoint and delete the WAL
    /// under the connections still open here, and their next read fails with a disk I/O
    /// error or a malformed database image.
    static func fileSize(_ path: String) -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else { return -1 }
        return Int(info.st_size)
    }

    package func write<T>(_ body: (Database) throws -> T) throws(MCRunError) -> T {
        do {
            return try pool.write(body)
        } catch let error as MCRunError {
            throw error
        } catch {
            throw Self.map(error, doing: "write the ledger")
        }
    }

    package func read<T>(_ body: (Database) throws -> T) throws(MCRunError) -> T {
        do {
            return try pool.read(body)
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
                return MCRunError(.internalError, "ledger_busy", "cannot \(what): the ledger stayed locked past the busy timeout; retry, or find the process holding it", cause: error)
            case .SQLITE_CORRUPT, .SQLITE_NOTADB, .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY, .SQLITE_IOERR, .SQLITE_AUTH, .SQLITE_FULL:
                return MCRunError(.internalError, "ledger_unavailable", "cannot \(what): \(db.message ?? "\(db.resultCode)"); check the file and its permissions", cause: error)
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

    /// Where tmux put a new runtime's session; not a state change.
    func recordSession(runtimeID: Int64, sessionID: String, paneID: String) throws(MCRunError) {
        try write { db in
            try db.execute(sql: "UPDATE runtimes SET session_id = ?, pane_id = ? WHERE id = ?", arguments: [sessionID, paneID, runtimeID])
        }
    }
}
