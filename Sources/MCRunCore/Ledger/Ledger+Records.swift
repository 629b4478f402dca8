import GRDB

/// How a public record type lives in its table. The public types keep only their Swift
/// shape; reading and writing their rows stays here, inside the ledger, through GRDB.
protocol LedgerRecord {
    static var databaseTableName: String { get }
    init(row: Row) throws
    func encode(to container: inout PersistenceContainer) throws
    /// Takes the id SQLite gave a new row.
    mutating func didInsert(rowID: Int64)
}

extension LedgerRecord {
    mutating func didInsert(rowID: Int64) {}

    static func fetchOne(_ db: Database, key: some DatabaseValueConvertible) throws -> Self? {
        try StoredRecord<Self>.fetchOne(db, key: key)?.value
    }

    static func fetchOne(_ db: Database, key: [String: (any DatabaseValueConvertible)?]) throws -> Self? {
        try StoredRecord<Self>.fetchOne(db, key: key)?.value
    }

    static func fetchOne(_ db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws -> Self? {
        try StoredRecord<Self>.fetchOne(db, sql: sql, arguments: arguments)?.value
    }

    static func fetchAll(_ db: Database, sql: String, arguments: StatementArguments = StatementArguments()) throws -> [Self] {
        try StoredRecord<Self>.fetchAll(db, sql: sql, arguments: arguments).map(\.value)
    }

    static func fetchAll(_ db: Database, keys: [some DatabaseValueConvertible]) throws -> [Self] {
        try StoredRecord<Self>.fetchAll(db, keys: keys).map(\.value)
    }

    static func fetchAll(_ db: Database) throws -> [Self] {
        try StoredRecord<Self>.fetchAll(db).map(\.value)
    }

    mutating func insert(_ db: Database, onConflict: Database.ConflictResolution? = nil) throws {
        var stored = StoredRecord(self)
        try stored.insert(db, onConflict: onConflict)
        self = stored.value
    }

    func update(_ db: Database) throws {
        try StoredRecord(self).update(db)
    }

    /// Updates the row, or inserts it when there is none.
    func save(_ db: Database) throws {
        var stored = StoredRecord(self)
        try stored.save(db)
    }
}

/// GRDB's record protocols, conformed to by a wrapper: a public type may not conform to a
/// protocol of a module that is not imported publicly.
private struct StoredRecord<Value: LedgerRecord>: FetchableRecord, MutablePersistableRecord {
    var value: Value
    static var databaseTableName: String { Value.databaseTableName }

    init(_ value: Value) { self.value = value }
    init(row: Row) throws { value = try Value(row: row) }
    func encode(to container: inout PersistenceContainer) throws { try value.encode(to: &container) }
    mutating func didInsert(_ inserted: InsertionSuccess) { value.didInsert(rowID: inserted.rowID) }
}

/// Rows without JSON columns map through the type's Codable keys, as GRDB maps a Codable record.
extension LedgerRecord where Self: Codable {
    init(row: Row) throws { self = try CodableRow<Self>(row: row).value }
    func encode(to container: inout PersistenceContainer) throws { try CodableRow(value: self).encode(to: &container) }
}

private struct CodableRow<Value: Codable>: Codable, FetchableRecord, EncodableRecord {
    var value: Value
    init(value: Value) { self.value = value }
    init(from decoder: any Decoder) throws { value = try Value(from: decoder) }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}

extension LedgerRecord {
    /// A column holding an enum's raw value; a value this build does not know is an error, not a crash.
    static func decodeRaw<T: RawRepresentable>(_ type: T.Type, _ row: Row, _ column: some ColumnExpression) throws -> T where T.RawValue == String {
        guard let value = try decodeRawIfPresent(type, row, column) else {
            throw MCRunError(.internalError, "ledger_error", "\(databaseTableName).\(column.name) is NULL")
        }
        return value
    }

    static func decodeRawIfPresent<T: RawRepresentable>(_ type: T.Type, _ row: Row, _ column: some ColumnExpression) throws -> T?
    where T.RawValue == String {
        guard let raw: String = row[column] else { return nil }
        guard let value = T(rawValue: raw) else {
            throw MCRunError(
                .internalError, "ledger_error", "\(databaseTableName).\(column.name) holds \(raw.debugDescription), which this mcrun does not know")
        }
        return value
    }
}

// Rows are read by hand rather than through Codable: `ps` decodes every runtime, and
// GRDB's generic Codable path cost most of its time. The environment is decoded only when
// the query selected it (`ps` does not).
extension Runtime: LedgerRecord {
    static let databaseTableName = "runtimes"

    init(row: Row) throws {
        id = row[Columns.id]
        ticket = row[Columns.ticket]
        episode = row[Columns.episode]
        nonce = row[Columns.nonce] ?? ""
        owner = row[Columns.owner]
        state = try Self.decodeRaw(RuntimeState.self, row, Columns.state)
        sessionName = row[Columns.sessionName]
        sessionID = row[Columns.sessionID]
        paneID = row[Columns.paneID]
        argv = Self.decodeJSON([String].self, row[Columns.argv]) ?? []
        cwd = row[Columns.cwd]
        env = row.hasColumn(Columns.env.rawValue) ? Self.decodeJSON([String: String].self, row[Columns.env]) ?? [:] : [:]
        bootID = row[Columns.bootID]
        pid = row[Columns.pid]
        startTime = row[Columns.startTime]
        launcherPID = row[Columns.launcherPID]
        launcherStartTime = row[Columns.launcherStartTime]
        createdAt = row[Columns.createdAt]
        startedAt = row[Columns.startedAt]
        endedAt = row[Columns.endedAt]
        updatedAt = row[Columns.updatedAt]
        endReason = row[Columns.endReason]
        endedBy = row[Columns.endedBy]
        exitCode = row[Columns.exitCode]
        exitSignal = row[Columns.exitSignal]
        leftoversKilled = row[Columns.leftoversKilled]
        lastScreen = row[Columns.lastScreen]
        busy = row[Columns.busy] ?? false
        busySource = row[Columns.busySource]
        busyAt = row[Columns.busyAt]
        verdict = try Self.decodeRawIfPresent(SignalKind.self, row, Columns.verdict)
        verdictAt = row[Columns.verdictAt]
        transcriptTail = row[Columns.transcriptTail]
        terminalRecord = Self.decodeJSON(TerminalRecord.self, row[Columns.terminalRecord])
        stopperPID = row[Columns.stopperPID]
        stopperStartTime = row[Columns.stopperStartTime]
        stopDeadline = row[Columns.stopDeadline]
        teardownOwed = row[Columns.teardownOwed] ?? false
        relaunchOf = row[Columns.relaunchOf]
        paneLogMissing = row[Columns.paneLogMissing]
        waitingSince = row[Columns.waitingSince]
        waitingFor = row[Columns.waitingFor]
        agentSessionID = row[Columns.agentSessionID]
        agentTranscriptPath = row[Columns.agentTranscriptPath]
        agentKind = (row[Columns.agentKind] as String?).flatMap(AgentKind.init(rawValue:))
        resumeArgv = Self.decodeJSON([String].self, row[Columns.resumeArgv])
        originalArgv = Self.decodeJSON([String].self, row[Columns.originalArgv])
        cgroup = Self.decodeJSON(RuntimeCgroup.self, row[Columns.cgroup])
        cgroupMissing = row[Columns.cgroupMissing]
        limits = Self.decodeJSON(ResourceLimits.self, row[Columns.limits])
        usage = Self.decodeJSON(ResourceUsage.self, row[Columns.usage])
    }

    func encode(to container: inout PersistenceContainer) throws {
        // A row read for listing has no nonce or environment; writing it back would erase them.
        precondition(!nonce.isEmpty, "a runtime read without its nonce cannot be written back")
        container[Columns.id] = id
        container[Columns.ticket] = ticket
        container[Columns.episode] = episode
        container[Columns.nonce] = nonce
        container[Columns.owner] = owner
        container[Columns.state] = state.rawValue
        container[Columns.sessionName] = sessionName
        container[Columns.sessionID] = sessionID
        container[Columns.paneID] = paneID
        container[Columns.argv] = Self.encodeJSON(argv)
        container[Columns.cwd] = cwd
        container[Columns.env] = Self.encodeJSON(env)
        container[Columns.bootID] = bootID
        container[Columns.pid] = pid
        container[Columns.startTime] = startTime
        container[Columns.launcherPID] = launcherPID
        container[Columns.launcherStartTime] = launcherStartTime
        container[Columns.createdAt] = createdAt
        container[Columns.startedAt] = startedAt
        container[Columns.endedAt] = endedAt
        container[Columns.updatedAt] = updatedAt
        container[Columns.endReason] = endReason
        container[Columns.endedBy] = endedBy
        container[Columns.exitCode] = exitCode
        container[Columns.exitSignal] = exitSignal
        container[Columns.leftoversKilled] = leftoversKilled
        container[Columns.lastScreen] = lastScreen
        container[Columns.busy] = busy
        container[Columns.busySource] = busySource
        container[Columns.busyAt] = busyAt
        container[Columns.verdict] = verdict?.rawValue
        container[Columns.verdictAt] = verdictAt
        container[Columns.transcriptTail] = transcriptTail
        container[Columns.terminalRecord] = terminalRecord.flatMap { Self.encodeJSON($0) }
        container[Columns.stopperPID] = stopperPID
        container[Columns.stopperStartTime] = stopperStartTime
        container[Columns.stopDeadline] = stopDeadline
        container[Columns.teardownOwed] = teardownOwed
        container[Columns.relaunchOf] = relaunchOf
        container[Columns.paneLogMissing] = paneLogMissing
        container[Columns.waitingSince] = waitingSince
        container[Columns.waitingFor] = waitingFor
        container[Columns.agentSessionID] = agentSessionID
        container[Columns.agentTranscriptPath] = agentTranscriptPath
        container[Columns.agentKind] = agentKind?.rawValue
        container[Columns.resumeArgv] = resumeArgv.flatMap { Self.encodeJSON($0) }
        container[Columns.originalArgv] = originalArgv.flatMap { Self.encodeJSON($0) }
        container[Columns.cgroup] = cgroup.flatMap { Self.encodeJSON($0) }
        container[Columns.cgroupMissing] = cgroupMissing
        container[Columns.limits] = limits.flatMap { Self.encodeJSON($0) }
        container[Columns.usage] = usage.flatMap { Self.encodeJSON($0) }
    }

    mutating func didInsert(rowID: Int64) { id = rowID }

    typealias Columns = CodingKeys

    /// Every column but the environment and the nonce: what listing runtimes needs.
    static let listingColumns: String = CodingKeys.allCases.map(\.rawValue).filter { $0 != "env" && $0 != "nonce" }.map { "r.\($0)" }
        .joined(separator: ", ")
}

extension Runtime.CodingKeys: ColumnExpression {}

extension Ticket: LedgerRecord {
    static let databaseTableName = "tickets"

    // By hand, as for runtimes: `ps` reads every ticket.
    init(row: Row) throws {
        self.init(id: row[CodingKeys.id.rawValue], now: row[CodingKeys.createdAt.rawValue])
        parked = row[CodingKeys.parked.rawValue]
        parkedReason = row[CodingKeys.parkedReason.rawValue]
        parkedAt = row[CodingKeys.parkedAt.rawValue]
        deaths = row[CodingKeys.deaths.rawValue]
        escalated = row[CodingKeys.escalated.rawValue]
        escalatedReason = row[CodingKeys.escalatedReason.rawValue]
        escalatedAt = row[CodingKeys.escalatedAt.rawValue]
        updatedAt = row[CodingKeys.updatedAt.rawValue]
    }
}

extension PendingRetry: LedgerRecord {
    static let databaseTableName = "pending_retries"
}

extension Refusal: LedgerRecord {
    static let databaseTableName = "refusals"
}

// Events and signals carry a JSON column, stored as JSON text: decoded through Codable,
// SQLite's text-to-integer conversion would let `decode(Bool.self)` succeed and every
// event's data would read back as `false`.
extension Event: LedgerRecord {
    static let databaseTableName = "events"

    init(row: Row) throws {
        id = row["id"]
        at = row["at"]
        kind = row["kind"]
        ticket = row["ticket"]
        runtimeID = row["runtime_id"]
        episode = row["episode"]
        fromState = row["from_state"]
        toState = row["to_state"]
        actor = row["actor"]
        reason = row["reason"]
        data = JSONValue(databaseValue: row["data"])
    }

    func encode(to container: inout PersistenceContainer) throws {
        container["id"] = id
        container["at"] = at
        container["kind"] = kind
        container["ticket"] = ticket
        container["runtime_id"] = runtimeID
        container["episode"] = episode
        container["from_state"] = fromState
        container["to_state"] = toState
        container["actor"] = actor
        container["reason"] = reason
        container["data"] = data.jsonText
    }

    mutating func didInsert(rowID: Int64) { id = rowID }
}

extension CompletionSignal: LedgerRecord {
    static let databaseTableName = "signals"

    init(row: Row) throws {
        id = row["id"]
        at = row["at"]
        ticket = row["ticket"]
        episode = row["episode"]
        runtimeID = row["runtime_id"]
        kind = try Self.decodeRaw(SignalKind.self, row, Column("kind"))
        payload = JSONValue(databaseValue: row["payload"])
        state = try Self.decodeRaw(State.self, row, Column("state"))
        reason = row["reason"]
        decidedAt = row["decided_at"]
        actor = row["actor"]
    }

    func encode(to container: inout PersistenceContainer) throws {
        container["id"] = id
        container["at"] = at
        container["ticket"] = ticket
        container["episode"] = episode
        container["runtime_id"] = runtimeID
        container["kind"] = kind.rawValue
        container["payload"] = payload.jsonText
        container["state"] = state.rawValue
        container["reason"] = reason
        container["decided_at"] = decidedAt
        container["actor"] = actor
    }

    mutating func didInsert(rowID: Int64) { id = rowID }
}

extension JSONValue {
    /// A JSON column's value: NULL reads as `null`, text that is not JSON as `null` too.
    init(databaseValue: DatabaseValue) {
        self = String.fromDatabaseValue(databaseValue).flatMap(JSONValue.parse) ?? .null
    }
}
