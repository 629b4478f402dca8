import Foundation

/// Where a runtime is in its life. Only `Ledger.transition` changes it.
public enum RuntimeState: String, Codable, Sendable, CaseIterable {
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
}

/// One episode of a ticket's agent: a row of `runtimes`.
public struct Runtime: Codable, Sendable, Equatable {
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
    /// The accepted signal that stands for the episode; once DONE, it stays DONE.
    public var verdict: SignalKind?
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
    /// Why the pane has no log (no pane-log hook found); nil when its log is attached.
    public var paneLogMissing: String?
    /// Since when the agent has been waiting for a person (a permission prompt), by its own
    /// report; nil when it is not. A waiting agent is also busy.
    public var waitingSince: Double?
    /// What it waits for, as the agent named it (e.g. `permission_prompt`).
    public var waitingFor: String?
    /// The agent's own session id and transcript file, as its hooks reported them.
    public var agentSessionID: String?
    public var agentTranscriptPath: String?
    /// The agent the runtime runs (`start --agent`, or derived from its command); nil for
    /// any other program.
    public var agentKind: AgentKind?
    /// The argv that resumes the agent's own session, `{session_id}` standing for the id its
    /// hooks recorded; used by a relaunch only when the dead episode recorded one.
    public var resumeArgv: [String]?
    /// The caller's argv, when `argv` is the resume template applied to it on a relaunch.
    public var originalArgv: [String]?
    /// The runtime's own cgroup, as the shim joined it; nil when it has none.
    public var cgroup: RuntimeCgroup?
    /// Why the runtime has no cgroup (its leftovers are found by the /proc search instead).
    public var cgroupMissing: String?
    /// The limits it was started with (its own or the host's defaults), kept for a relaunch.
    public var limits: ResourceLimits?
    /// What its cgroup said it used when it ended.
    public var usage: ResourceUsage?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, ticket, episode, nonce, owner, state
        case sessionName = "session_name"
        case sessionID = "session_id"
        case paneID = "pane_id"
        case argv, cwd, env
        case bootID = "boot_id"
        case pid
        case startTime = "start_time"
        case launcherPID = "launcher_pid"
        case launcherStartTime = "launcher_start_time"
        case createdAt = "created_at"
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case updatedAt = "updated_at"
        case endReason = "end_reason"
        case endedBy = "ended_by"
        case exitCode = "exit_code"
        case exitSignal = "exit_signal"
        case leftoversKilled = "leftovers_killed"
        case lastScreen = "last_screen"
        case busy
        case busySource = "busy_source"
        case busyAt = "busy_at"
        case verdict
        case verdictAt = "verdict_at"
        case transcriptTail = "transcript_tail"
        case terminalRecord = "terminal_record"
        case stopperPID = "stopper_pid"
        case stopperStartTime = "stopper_start_time"
        case stopDeadline = "stop_deadline"
        case teardownOwed = "teardown_owed"
        case relaunchOf = "relaunch_of"
        case paneLogMissing = "pane_log_missing"
        case waitingSince = "waiting_since"
        case waitingFor = "waiting_for"
        case agentSessionID = "agent_session_id"
        case agentTranscriptPath = "agent_transcript_path"
        case agentKind = "agent_kind"
        case resumeArgv = "resume_argv"
        case originalArgv = "original_argv"
        case cgroup
        case cgroupMissing = "cgroup_missing"
        case limits, usage
    }
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
public struct Ticket: Codable, Sendable, Equatable {
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

    enum CodingKeys: String, CodingKey {
        case id, parked
        case parkedReason = "parked_reason"
        case parkedAt = "parked_at"
        case deaths, escalated
        case escalatedReason = "escalated_reason"
        case escalatedAt = "escalated_at"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

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
public struct Event: Codable, Sendable, Equatable {
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

    enum CodingKeys: String, CodingKey {
        case id, at, kind, ticket
        case runtimeID = "runtime_id"
        case episode
        case fromState = "from_state"
        case toState = "to_state"
        case actor, reason, data
    }
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

extension Runtime {
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
