import Foundation
import GRDB
import GRDBSQLite
import Glibc

/// Opening the ledger: for writing (creating and migrating it when the state directory is
/// new) or for reading only. A reader never takes the write lock, never migrates and never
/// creates a file, so `ps` answers while a writer holds the ledger, on a read-only ledger
/// and on a full disk. Neither ever replaces a ledger that has gone missing from a state
/// directory that was in use: that would silently drop parked tickets, the kill switch and
/// the capacity.
extension Ledger {
    /// For commands that write. `recreate` accepts that a used state directory's ledger is
    /// gone and starts an empty one in its place.
    public convenience init(directory: StateDirectory, busyTimeout: Double = 5, recreate: Bool = false) throws(MCRunError) {
        let path = directory.ledgerPath
        let config = Self.configuration(busyTimeout: busyTimeout, readonly: false)
        do {
            // The common case: an up-to-date ledger, opened without taking any write lock.
            if Self.fileSize(path) > 0 {
                let pool = try DatabasePool(path: path, configuration: config)
                if try pool.read({ db in try Self.migrator.hasCompletedMigrations(db) }) {
                    directory.markLedgerCreated()
                    self.init(database: pool, path: path)
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
        if Self.fileSize(path) <= 0 {
            if !recreate, let use = directory.evidenceOfUse() { throw Self.missing(path, use) }
            // A write-ahead log left by the lost ledger must not be replayed into the new one.
            unlink(path + "-wal")
            unlink(path + "-shm")
        }
        // SQLite gives the -wal and -shm files the main file's mode: all three are readable by
        // the directory's group (the operators), never by others.
        // Only a file that does not exist yet is opened here (see `fileSize`).
        if Self.fileSize(path) < 0 {
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
            if fd >= 0 { close(fd) }
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try Self.migrator.migrate(pool)
        } catch {
            throw Self.map(error, doing: "open the ledger at \(path)")
        }
        directory.markLedgerCreated()
        self.init(database: pool, path: path)
    }

    /// For commands that only read: one read-only connection. A state directory never used
    /// reads as an empty ledger kept in memory, and nothing is created on disk.
    public convenience init(readingFrom directory: StateDirectory, busyTimeout: Double = 5) throws(MCRunError) {
        let path = directory.ledgerPath
        if Self.fileSize(path) <= 0 {
            if let use = directory.evidenceOfUse() { throw Self.missing(path, use) }
            do {
                let empty = try DatabaseQueue(configuration: Self.configuration(busyTimeout: busyTimeout, readonly: false))
                try Self.migrator.migrate(empty)
                self.init(database: empty, path: path)
                return
            } catch {
                throw Self.map(error, doing: "prepare an empty ledger")
            }
        }
        let queue: DatabaseQueue
        do {
            do {
                queue = try Self.openReadOnly(path, busyTimeout: busyTimeout)
            } catch let error as MCRunError where error.reason == Self.outdated {
                // Perhaps a writer is creating or migrating it right now: look again after it.
                Self.awaitMigrations(directory, timeout: busyTimeout)
                queue = try Self.openReadOnly(path, busyTimeout: busyTimeout)
            }
        } catch {
            throw Self.map(error, doing: "open the ledger at \(path) for reading")
        }
        self.init(database: queue, path: path)
    }

    static let outdated = "ledger_outdated"

    /// Whether the state directory holds a ledger (a file with content), looked at without
    /// opening it: for callers that must never create one.
    public static func exists(in directory: StateDirectory) -> Bool {
        fileSize(directory.ledgerPath) > 0
    }

    /// Waits, at most `timeout` seconds, while a writer holds the migration lock (it does
    /// only while creating or migrating the ledger). A shared lock on the lock file, never
    /// a lock on the ledger.
    static func awaitMigrations(_ directory: StateDirectory, timeout: Double) {
        let fd = open(directory.migrationLockPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let deadline = Instant.now + .nanoseconds(Int64(timeout * 1e9))
        while flock(fd, LOCK_SH | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR, !deadline.hasPassed else { return }
            usleep(10_000)
        }
    }

    /// True for the empty in-memory ledger a read gets in a state directory never used.
    public var isStandIn: Bool {
        (database as? DatabaseQueue)?.path == ":memory:"
    }

    /// A read-only connection that has checked the schema. SQLite reads a WAL ledger through
    /// its -shm file; where that cannot be created (read-only directory, full disk) and no
    /// log is waiting to be applied, the file as it stands is the whole ledger, and it is
    /// opened immutable: no -shm, no locks.
    static func openReadOnly(_ path: String, busyTimeout: Double) throws -> DatabaseQueue {
        let config = configuration(busyTimeout: busyTimeout, readonly: true)
        do {
            return try checked(DatabaseQueue(path: path, configuration: config), path: path)
        } catch let error as DatabaseError where [.SQLITE_CANTOPEN, .SQLITE_IOERR, .SQLITE_READONLY, .SQLITE_FULL, .SQLITE_PERM].contains(error.resultCode) {
            guard fileSize(path + "-wal") <= 0 else { throw error }
            return try checked(DatabaseQueue(path: immutableURI(path), configuration: config), path: path)
        }
    }

    private static func checked(_ queue: DatabaseQueue, path: String) throws -> DatabaseQueue {
        guard try queue.read({ db in try migrator.hasCompletedMigrations(db) }) else {
            throw MCRunError(
                .internalError, outdated,
                "the ledger at \(path) was written by an earlier mcrun and needs migrating, which a read does not do; run any command that writes (e.g. mcrun config), or restart mcrun serve"
            )
        }
        return queue
    }

    static func immutableURI(_ path: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#%")
        return "file:" + (path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path) + "?immutable=1"
    }

    static func configuration(busyTimeout: Double, readonly: Bool) -> Configuration {
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.readonly = readonly
        config.label = "mcrun-ledger"
        config.prepareDatabase { db in
            // NORMAL in WAL mode: a committed transaction survives any crash or kill of mcrun;
            // only a power loss may drop the last few.
            if !readonly { try db.execute(sql: "PRAGMA synchronous = NORMAL") }
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            // A writer leaves the -wal and -shm files when it closes: a reader that may not
            // create files in the directory (an operator in its group) needs them to exist.
            // With a size limit set, the last writer to close empties the log (size 0), so a
            // reader that finds it empty may still open the file as it stands.
            if !readonly {
                var persist: Int32 = 1
                _ = withUnsafeMutablePointer(to: &persist) { sqlite3_file_control(db.sqliteConnection, nil, SQLITE_FCNTL_PERSIST_WAL, $0) }
                try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
            }
        }
        return config
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

    static func missing(_ path: String, _ use: String) -> MCRunError {
        let state = fileSize(path) == 0 ? "is empty" : "is missing"
        return MCRunError(
            .refused, "ledger_missing",
            "the ledger \(path) \(state), but this state directory was in use (\(use)); nothing was done. Restore the file from a backup (with ledger.sqlite-wal if there is one), or accept the loss of runtimes, parked tickets, the kill switch and settings with: mcrun config --recreate-ledger"
        )
    }
}

extension StateDirectory {
    /// Written once the ledger exists: from then on a missing ledger is a loss, not a new start.
    public var ledgerMarkerPath: String { path + "/ledger.created" }

    func markLedgerCreated() {
        guard access(ledgerMarkerPath, F_OK) != 0 else { return }
        let fd = open(ledgerMarkerPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let text = Array("The ledger of this state directory was created; mcrun refuses to start over without it.\n".utf8)
        _ = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// What shows that this directory has been used, or nil for a new one: the marker
    /// written when its ledger was created, or pane logs (a directory from before the
    /// marker). Not the tmux socket: under systemd, mcrun-tmux.service creates it before
    /// the first mcrun command has created the ledger.
    func evidenceOfUse() -> String? {
        if access(ledgerMarkerPath, F_OK) == 0 { return "\(ledgerMarkerPath) exists" }
        if let logs = opendir(logsDirectory) {
            defer { closedir(logs) }
            while let entry = readdir(logs) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name != "." && name != ".." { return "pane logs exist in \(logsDirectory)" }
            }
        }
        return nil
    }
}
