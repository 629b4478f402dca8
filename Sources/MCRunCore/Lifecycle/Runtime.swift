public import GRDB
import Foundation

/// Where a runtime is in its life. Only `Ledger.transition` changes it.
public enum RuntimeState: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    /// Admitted; the tmux session is being created and the agent's identity is not yet known.
    case launching
    /// The agent's identity is recorded; it was alive when last looked at.
    case running
    /// A stop or park is in progress.
    case stopping
    /// Ended by `stop` or `park`.
    case stopped
    /// Ended after an accepted completion signal.
    case completed
    /// The agent went away on its own, without an accepted completion.
    case dead
    /// The agent never started (bad command, tmux failure, launcher killed, timeout).
    case launchFailed = "launch_failed"

    /// The states the one-live-runtime-per-ticket index covers.
    public static let live: Set<RuntimeState> = [.launching, .running, .stopping]
    public static let ended: Set<RuntimeState> = [.stopped, .completed, .dead, .launchFailed]

    public var isLive: Bool { Self.live.contains(self) }
    public var isEnded: Bool { Self.ended.contains(self) }

    /// SQL list of the live states, for the partial unique index and queries.
    static let liveSQL = "('launching','running','stopping')"
}

/// One episode of a ticket's agent: a row of `runtimes`.
public struct Runtime: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "runtimes"

    public var id: Int64?
    public var ticket: String
    public var episode: Int
    /// Random per episode; only the episode's own environment holds it.
    public var nonce: String
    public var owner: String?
    public var state: RuntimeState
    public var sessionName: String
    public var sessionID: String?
    public var paneID: String?
    public var argv: [String]
    public var cwd: String
    /// The agent's environment, replayed exactly on a relaunch. Never printed.
    public var env: [String: String]
    public var bootID: String?
    public var pid: Int32?
    public var startTime: Int64?
    /// The `mcrun start` process that admitted the runtime, so an abandoned launch is told
    /// apart from one in progress.
    public var launcherPID: Int32?
    public var launcherStartTime: Int64?
    public var createdAt: Double
    public var startedAt: Double?
    public var endedAt: Double?
    public var updatedAt: Double
    public var endReason: String?
    public var endedBy: String?
    public var exitCode: Int?
    public var exitSignal: Int?
    public var leftoversKilled: Int?
    public var lastScreen: String?
    public var busy: Bool
    public var busySource: String?
    public var busyAt: Double?
    public var verdict: String?
    public var verdictAt: Double?
    /// The clean pane log's last lines, read when the runtime ended.
    public var transcriptTail: String?
    /// What ended the runtime and what to do next, derived once when it ended.
    public var terminalRecord: TerminalRecord?
    /// The process carrying out a stop, and when it should be done by.
    public var stopperPID: Int32?
    public var stopperStartTime: Int64?
    public var stopDeadline: Double?
    /// The end is recorded but its teardown (leftovers, session, transcript) is not done.
    public var teardownOwed: Bool = false
    /// The dead runtime whose owed relaunch this episode is; nil for a start by a caller.
    public var relaunchOf: Int64?

    public enum CodingKeys: String, CodingKey, ColumnExpression, CaseIterable {
        case id, ticket, episode, nonce, owner, state
        case sessionName = "session_name", sessionID = "session_id", paneID = "pane_id"
        case argv, cwd, env
        case bootID = "boot_id", pid, startTime = "start_time"
        case launcherPID = "launcher_pid", launcherStartTime = "launcher_start_time"
        case createdAt = "created_at", startedAt = "started_at", endedAt = "ended_at", updatedAt = "updated_at"
        case endReason = "end_reason", endedBy = "ended_by", exitCode = "exit_code", exitSignal = "exit_signal"
        case leftoversKilled = "leftovers_killed", lastScreen = "last_screen"
        case busy, busySource = "busy_source", busyAt = "busy_at"
        case verdict, verdictAt = "verdict_at"
        case transcriptTail = "transcript_tail", terminalRecord = "terminal_record"
        case stopperPID = "stopper_pid", stopperStartTime = "stopper_start_time", stopDeadline = "stop_deadline"
        case teardownOwed = "teardown_owed", relaunchOf = "relaunch_of"
    }
    public typealias Columns = CodingKeys

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    public var ticketID: TicketID { TicketID(trusted: ticket) }

    public var identity: AgentIdentity? {
        guard let bootID, let pid, let startTime else { return nil }
        return AgentIdentity(bootID: bootID, pid: pid, startTime: UInt64(startTime))
    }

    public mutating func record(_ identity: AgentIdentity) {
        bootID = identity.bootID
        pid = identity.pid
        startTime = Int64(identity.startTime)
    }

    /// A launch whose `mcrun start` is gone before the agent's identity was recorded will
    /// never finish: it is safe to fail it and admit a new episode. Unknown is not gone.
    public var isAbandonedLaunch: Bool {
        guard state == .launching, identity == nil else { return false }
        return Self.isGone(pid: launcherPID, startTime: launcherStartTime)
    }

    /// A `stopping` runtime whose stopper is gone, or is past its deadline, will not finish
    /// by itself: the service takes the stop over.
    public func isAbandonedStop(now: Double = WallClock.now()) -> Bool {
        guard state == .stopping else { return false }
        if let stopDeadline, now > stopDeadline { return true }
        return Self.isGone(pid: stopperPID, startTime: stopperStartTime)
    }

    /// Whether the process (pid, start time) on this boot has exited; a process never
    /// recorded counts as gone, an unreadable /proc does not.
    static func isGone(pid: Int32?, startTime: Int64?) -> Bool {
        guard let pid, let startTime else { return true }
        guard let bootID = ProcFS.bootID() else { return false }
        let liveness = AgentIdentity(bootID: bootID, pid: pid, startTime: UInt64(startTime)).liveness(currentBootID: bootID)
        return liveness == .exited || liveness == .recycled
    }

    public func liveness() -> AgentIdentity.Liveness? { identity?.liveness() }

    public var hasExitStatus: Bool { exitCode != nil || exitSignal != nil }
}

/// A ticket's standing, across its episodes.
public struct Ticket: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "tickets"

    public var id: String
    public var parked: Bool
    public var parkedReason: String?
    public var parkedAt: Double?
    /// Unexpected deaths since the last accepted completion or reset.
    public var deaths: Int
    public var escalated: Bool
    public var escalatedReason: String?
    public var escalatedAt: Double?
    public var createdAt: Double
    public var updatedAt: Double

    public enum CodingKeys: String, CodingKey, ColumnExpression {
        case id, parked, parkedReason = "parked_reason", parkedAt = "parked_at", deaths, escalated
        case escalatedReason = "escalated_reason", escalatedAt = "escalated_at"
        case createdAt = "created_at", updatedAt = "updated_at"
    }
    public typealias Columns = CodingKeys

    public init(id: String, now: Double) {
        self.id = id
        parked = false
        deaths = 0
        escalated = false
        createdAt = now
        updatedAt = now
    }
}

/// One state change, written in the same transaction as the change itself.
public struct Event: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "events"

    public var id: Int64?
    public var at: Double
    public var kind: String
    public var ticket: String?
    public var runtimeID: Int64?
    public var episode: Int?
    public var fromState: String?
    public var toState: String?
    public var actor: String
    public var reason: String?
    public var data: JSONValue

    public enum CodingKeys: String, CodingKey, ColumnExpression {
        case id, at, kind, ticket, runtimeID = "runtime_id", episode, fromState = "from_state", toState = "to_state"
        case actor, reason, data
    }
    public typealias Columns = CodingKeys

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension Runtime {
    /// What is true of the runtime now, which is not always what the ledger last recorded:
    /// a `running` row whose agent is gone is shown as `dead` before the reaper records it.
    public func status(liveness: AgentIdentity.Liveness?) -> String {
        switch state {
        case .launching:
            if identity == nil { return isAbandonedLaunch ? "launch_abandoned" : "launching" }
            return "launching"
        case .running:
            switch liveness {
            case .alive: return "running"
            case .unknown, nil: return "unknown"
            default: return "dead"
            }
        case .stopping: return "stopping"
        default: return state.rawValue
        }
    }
}

// Rows are read by hand rather than through Codable: `ps` decodes every runtime, and
// GRDB's generic Codable path cost most of its time. The environment is decoded only when
// the query selected it (`ps` does not).
extension Runtime {
    public init(row: Row) throws {
        id = row[Columns.id]
        ticket = row[Columns.ticket]
        episode = row[Columns.episode]
        nonce = row[Columns.nonce] ?? ""
        owner = row[Columns.owner]
        state = row[Columns.state]
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
        verdict = row[Columns.verdict]
        verdictAt = row[Columns.verdictAt]
        transcriptTail = row[Columns.transcriptTail]
        terminalRecord = Self.decodeJSON(TerminalRecord.self, row[Columns.terminalRecord])
        stopperPID = row[Columns.stopperPID]
        stopperStartTime = row[Columns.stopperStartTime]
        stopDeadline = row[Columns.stopDeadline]
        teardownOwed = row[Columns.teardownOwed] ?? false
        relaunchOf = row[Columns.relaunchOf]
    }

    public func encode(to container: inout PersistenceContainer) throws {
        // A row read for listing has no nonce or environment; writing it back would erase them.
        precondition(!nonce.isEmpty, "a runtime read without its nonce cannot be written back")
        container[Columns.id] = id
        container[Columns.ticket] = ticket
        container[Columns.episode] = episode
        container[Columns.nonce] = nonce
        container[Columns.owner] = owner
        container[Columns.state] = state
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
        container[Columns.verdict] = verdict
        container[Columns.verdictAt] = verdictAt
        container[Columns.transcriptTail] = transcriptTail
        container[Columns.terminalRecord] = terminalRecord.flatMap { Self.encodeJSON($0) }
        container[Columns.stopperPID] = stopperPID
        container[Columns.stopperStartTime] = stopperStartTime
        container[Columns.stopDeadline] = stopDeadline
        container[Columns.teardownOwed] = teardownOwed
        container[Columns.relaunchOf] = relaunchOf
    }

    /// Every column but the environment and the nonce: what listing runtimes needs.
    public static let listingColumns: String = CodingKeys.allColumnNames.filter { $0 != "env" && $0 != "nonce" }.map { "r.\($0)" }.joined(separator: ", ")

    static func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String?) -> T? {
        guard let text else { return nil }
        return try? JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    static func encodeJSON<T: Encodable>(_ value: T) -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) }
    }
}

extension Runtime.CodingKeys {
    static var allColumnNames: [String] { allCases.map(\.rawValue) }
}
