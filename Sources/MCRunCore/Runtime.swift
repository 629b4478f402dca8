public import GRDB

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

    public enum CodingKeys: String, CodingKey, ColumnExpression {
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

    public var launcherIdentity: AgentIdentity? {
        guard let bootID = ProcFS.bootID(), let launcherPID, let launcherStartTime else { return nil }
        return AgentIdentity(bootID: bootID, pid: launcherPID, startTime: UInt64(launcherStartTime))
    }

    /// A launch whose `mcrun start` is gone before the agent's identity was recorded will
    /// never finish: it is safe to fail it and admit a new episode.
    public var isAbandonedLaunch: Bool {
        guard state == .launching, identity == nil else { return false }
        guard let launcher = launcherIdentity else { return true }
        return launcher.liveness() == .exited || launcher.liveness() == .recycled
    }

    public func liveness() -> AgentIdentity.Liveness? { identity?.liveness() }
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
