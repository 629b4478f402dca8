import Foundation
import GRDB

/// What a dispatcher needs to know about a runtime that ended without an accepted verdict
/// (or went silent): what happened, why, whether running it again is safe, whether a
/// person must look, and what to do next. Derived by one function from the facts the
/// ledger holds at the end, and stored with the runtime, so it survives log rotation.
///
/// Its JSON has exactly the contract's fields: `status`, `summary`, `root_cause`,
/// `safe_retry`, `stop_condition`, `human_input_required`, `next_actions`, `artifacts`.
/// Who ended it, when, and the ticket's standing are the runtime's and ticket's own facts
/// and are shown beside the record, not in it.
public struct TerminalRecord: Codable, Sendable, Equatable {
    /// completed, stopped, parked, dead, launch_failed or silent.
    public var status: String
    public var summary: String
    /// A machine word: done, stop_requested, parked, exited_without_signal, exit_code,
    /// killed_by_signal, exit_unknown, command_not_executable, launch_<reason>, silent.
    public var rootCause: String
    public var safeRetry: Bool
    /// What ended the episode, or what holds it now: one of `StopCondition`.
    public var stopCondition: StopCondition
    public var humanInputRequired: Bool
    /// Commands that exist, each starting with `mcrun `.
    public var nextActions: [String]
    public var artifacts: Artifacts

    /// The small, closed set of conditions an episode ends in (or is held by).
    public enum StopCondition: String, Codable, Sendable, CaseIterable {
        /// It reported DONE (or ended completed).
        case completed
        /// Someone asked it to stop (`mcrun stop`).
        case stoppedByOperator = "stopped_by_operator"
        /// Its ticket was parked; it stays down until unparked.
        case parked
        /// The agent ended without a completion signal; the service may relaunch it once.
        case died
        /// The agent died again; the ticket is escalated and nothing relaunches it.
        case escalated
        /// The agent never started.
        case launchFailed = "launch_failed"
        /// Alive, but no output for longer than the harvest timeout.
        case silent
        /// Not ended (a record asked for a live runtime).
        case running
    }

    public struct Artifacts: Codable, Sendable, Equatable {
        public var exitCode: Int?
        public var exitSignal: Int?
        public var leftoversKilled: Int
        /// Filled in when the record is shown: paths depend on where the state directory is.
        public var log: String?
        public var rawLog: String?

        public init(exitCode: Int?, exitSignal: Int?, leftoversKilled: Int, log: String? = nil, rawLog: String? = nil) {
            self.exitCode = exitCode
            self.exitSignal = exitSignal
            self.leftoversKilled = leftoversKilled
            self.log = log
            self.rawLog = rawLog
        }

        public enum CodingKeys: String, CodingKey {
            case exitCode = "exit_code"
            case exitSignal = "exit_signal"
            case leftoversKilled = "leftovers_killed"
            case log
            case rawLog = "raw_log"
        }

        /// Every key is written, null or not, so a reader sees the same shape every time.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(exitCode, forKey: .exitCode)
            try c.encode(exitSignal, forKey: .exitSignal)
            try c.encode(leftoversKilled, forKey: .leftoversKilled)
            try c.encode(log, forKey: .log)
            try c.encode(rawLog, forKey: .rawLog)
        }
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case status, summary
        case rootCause = "root_cause"
        case safeRetry = "safe_retry"
        case stopCondition = "stop_condition"
        case humanInputRequired = "human_input_required"
        case nextActions = "next_actions"
        case artifacts
    }

    /// Keys of records stored before the contract's names; read, never written.
    enum LegacyKeys: String, CodingKey {
        case retrySafe = "retry_safe"
        case humanInputNeeded = "human_input_needed"
        case escalated
    }

    public init(
        status: String, summary: String, rootCause: String, safeRetry: Bool, stopCondition: StopCondition,
        humanInputRequired: Bool, nextActions: [String], artifacts: Artifacts
    ) {
        self.status = status
        self.summary = summary
        self.rootCause = rootCause
        self.safeRetry = safeRetry
        self.stopCondition = stopCondition
        self.humanInputRequired = humanInputRequired
        self.nextActions = nextActions
        self.artifacts = artifacts
    }

    /// Reads both the contract's keys and those of records stored by earlier versions
    /// (`retry_safe`, `human_input_needed`, no `stop_condition`, next actions written as
    /// "what to do: mcrun ..."), so a runtime that ended before an upgrade still harvests.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let legacy = try decoder.container(keyedBy: LegacyKeys.self)
        status = try c.decode(String.self, forKey: .status)
        summary = try c.decode(String.self, forKey: .summary)
        rootCause = try c.decode(String.self, forKey: .rootCause)
        safeRetry = try c.decodeIfPresent(Bool.self, forKey: .safeRetry) ?? legacy.decode(Bool.self, forKey: .retrySafe)
        humanInputRequired =
            try c.decodeIfPresent(Bool.self, forKey: .humanInputRequired)
            ?? legacy.decode(Bool.self, forKey: .humanInputNeeded)
        artifacts = try c.decode(Artifacts.self, forKey: .artifacts)
        let actions = try c.decode([String].self, forKey: .nextActions)
        if let condition = try c.decodeIfPresent(StopCondition.self, forKey: .stopCondition) {
            stopCondition = condition
            nextActions = actions
        } else {
            let escalated = try legacy.decodeIfPresent(Bool.self, forKey: .escalated) ?? false
            stopCondition = Self.legacyStopCondition(status: status, escalated: escalated)
            nextActions = Self.commandsOnly(actions)
        }
    }

    static func legacyStopCondition(status: String, escalated: Bool) -> StopCondition {
        switch status {
        case "completed": .completed
        case "stopped": .stoppedByOperator
        case "parked": .parked
        case "dead": escalated ? .escalated : .died
        case "launch_failed": .launchFailed
        case "silent": .silent
        default: .running
        }
    }

    /// The commands of old "what to do: mcrun CMD" entries; prose without a command, and
    /// `attach` (an ended episode has no session to attach to), are dropped.
    static func commandsOnly(_ actions: [String]) -> [String] {
        actions.compactMap { action in
            guard let range = action.range(of: ": mcrun ") else { return nil }
            let command = String(action[action.index(range.lowerBound, offsetBy: 2)...])
            return command.hasPrefix("mcrun attach") ? nil : command
        }
    }

    /// A live runtime that produced no pane output for `seconds`, past the harvest timeout.
    public struct Silence: Sendable, Equatable {
        public var seconds: Double
        public var limit: Double

        public init(seconds: Double, limit: Double) {
            self.seconds = seconds
            self.limit = limit
        }
    }

    /// Launch failures that will fail the same way again until someone fixes the request.
    static let permanentLaunchFailures: Set<String> = ["command_not_found", "bad_cwd", "exec_failed"]

    /// Re-derives a stored record after the ticket changed in the same transaction (the
    /// death count, an escalation), so the record says what the ticket now is.
    static func refresh(_ db: Database, _ runtime: Runtime) throws -> Runtime {
        var updated = runtime
        updated.terminalRecord = derive(runtime, ticket: try Ledger.ticket(db, id: runtime.ticket))
        try Ledger.setTerminalRecord(db, runtimeID: runtime.id!, updated.terminalRecord)
        return updated
    }

    /// The one derivation: every end path (stop, park, death, completion, launch failure)
    /// and the harvest timeout produce their record here.
    public static func derive(_ runtime: Runtime, ticket: Ticket?, silence: Silence? = nil) -> TerminalRecord {
        let t = runtime.ticket
        let deaths = ticket?.deaths ?? 0
        let escalated = ticket?.escalated ?? false
        let parked = ticket?.parked ?? false
        let exit = describeExit(code: runtime.exitCode, signal: runtime.exitSignal)
        let leftovers = runtime.leftoversKilled ?? 0
        let leftoversNote = leftovers > 0 ? "; \(leftovers) leftover process\(leftovers == 1 ? "" : "es") killed" : ""
        var record = TerminalRecord(
            status: runtime.state.rawValue, summary: "", rootCause: "", safeRetry: false, stopCondition: .running,
            humanInputRequired: false, nextActions: [],
            artifacts: Artifacts(exitCode: runtime.exitCode, exitSignal: runtime.exitSignal, leftoversKilled: leftovers))

        if let silence, runtime.state.isLive {
            record.status = "silent"
            record.rootCause = "silent"
            record.stopCondition = .silent
            record.summary =
                "episode \(runtime.episode) is alive but printed nothing for \(duration(silence.seconds)) (harvest timeout \(duration(silence.limit))); it may be waiting for input or hung"
            record.safeRetry = false
            record.humanInputRequired = true
            record.nextActions = ["mcrun logs \(t)", "mcrun show \(t)", "mcrun stop \(t) --reason silent"]
            return record
        }
        if runtime.verdict == .done {
            record.status = "completed"
            record.rootCause = "done"
            record.stopCondition = .completed
            record.summary = "episode \(runtime.episode) reported DONE and ended (\(exit.text))\(leftoversNote)"
            record.safeRetry = false
            record.humanInputRequired = false
            record.nextActions = ["mcrun harvest \(t) --json"]
            return record
        }
        switch runtime.state {
        case .stopped:
            let who = runtime.endedBy.map { " by \($0)" } ?? ""
            let why = runtime.endReason.map { " (\($0))" } ?? ""
            if parked {
                record.status = "parked"
                record.rootCause = "parked"
                record.stopCondition = .parked
                record.summary =
                    "episode \(runtime.episode) was stopped\(who) when the ticket was parked\(ticket?.parkedReason.map { " (\($0))" } ?? why)\(leftoversNote); it stays down until unparked"
                record.safeRetry = false
                record.humanInputRequired = true
                record.nextActions = ["mcrun unpark \(t)", "mcrun logs \(t)"]
            } else {
                record.rootCause = "stop_requested"
                record.stopCondition = .stoppedByOperator
                record.summary =
                    "episode \(runtime.episode) was stopped\(who)\(why); agent \(exit.text)\(leftoversNote); start it again if the work is still wanted"
                record.safeRetry = true
                record.humanInputRequired = false
                record.nextActions = ["mcrun start \(t) -- COMMAND", "mcrun logs \(t)"]
            }
        case .dead where (runtime.usage?.oomKills ?? 0) > 0:
            // Out of memory counts as the ticket's death (the policy is unchanged), but the
            // same command under the same limit will run out again.
            let limit = runtime.limits?.memoryMax
            let peak = runtime.usage?.memoryPeak.map { ", peak \(ResourceLimits.formatSize($0))" } ?? ""
            record.rootCause = "out_of_memory"
            record.stopCondition = escalated ? .escalated : .died
            record.summary =
                "episode \(runtime.episode) ran out of memory (\(limit.map { "memory-max \(ResourceLimits.formatSize($0))" } ?? "no limit of its own: the host ran out")\(peak)); the kernel's OOM killer ended it: agent \(exit.text)\(leftoversNote); safe to retry only with a higher memory limit"
            record.safeRetry = false
            record.humanInputRequired = true
            let higher = limit.map { ResourceLimits.formatSize($0 * 2) } ?? "SIZE"
            record.nextActions =
                escalated
                ? ["mcrun reset \(t)", "mcrun start \(t) --memory-max \(higher) -- COMMAND"]
                : ["mcrun start \(t) --memory-max \(higher) -- COMMAND", "mcrun logs \(t)"]
        case .dead:
            record.rootCause = exit.cause
            record.stopCondition = escalated ? .escalated : .died
            record.summary = "episode \(runtime.episode) ended without a completion signal: agent \(exit.text)\(leftoversNote)"
            let permanent = exit.cause == "command_not_executable"
            record.safeRetry = !permanent && !escalated && !parked
            record.humanInputRequired = permanent || escalated || parked
            if escalated {
                record.summary += "; the ticket is escalated after \(deaths) death\(deaths == 1 ? "" : "s"); fix the cause, then reset it"
                record.nextActions = ["mcrun logs \(t)", "mcrun reset \(t)"]
            } else if permanent {
                record.summary += "; check the agent's command and environment"
                record.nextActions = ["mcrun show \(t)", "mcrun logs \(t)"]
            } else {
                record.summary += "; mcrun serve relaunches a first death, a second one escalates"
                record.nextActions = ["mcrun logs \(t)", "mcrun show \(t)"]
            }
        case .launchFailed:
            let reason = runtime.endReason ?? "unknown"
            let permanent = permanentLaunchFailures.contains(reason)
            record.rootCause = "launch_" + reason
            record.stopCondition = .launchFailed
            record.summary =
                "episode \(runtime.episode) never started: \(reason)" + (permanent ? "; fix the command or working directory before starting it again" : "")
            record.safeRetry = !permanent && !parked
            record.humanInputRequired = permanent
            record.nextActions = permanent ? ["mcrun show \(t)", "mcrun start \(t) -- COMMAND"] : ["mcrun start \(t) -- COMMAND"]
        case .completed:
            // Completed without a DONE verdict on the row cannot happen through mcrun; say what is known.
            record.rootCause = "done"
            record.stopCondition = .completed
            record.summary = "episode \(runtime.episode) completed (\(exit.text))"
            record.nextActions = ["mcrun harvest \(t) --json"]
        case .launching, .running, .stopping:
            record.rootCause = "running"
            record.stopCondition = .running
            record.summary = "episode \(runtime.episode) has not ended"
            record.nextActions = ["mcrun logs \(t) -f"]
        }
        return record
    }

    /// The exit in words, and the root-cause word it implies.
    static func describeExit(code: Int?, signal: Int?) -> (text: String, cause: String) {
        if let signal {
            let name = signalNames[signal].map { "SIG\($0)" } ?? "signal \(signal)"
            let hint = signal == 9 ? " (a forced kill or the kernel's OOM killer)" : ""
            return ("killed by \(name)\(hint)", "killed_by_signal")
        }
        guard let code else { return ("exit status unknown (it may have ended while mcrun was not watching)", "exit_unknown") }
        switch code {
        case 0: return ("exited with code 0", "exited_without_signal")
        case 126, 127: return ("exited with code \(code) (the command could not be executed)", "command_not_executable")
        case 129...159:
            let s = code - 128
            return ("exited with code \(code) (\(signalNames[s].map { "SIG\($0)" } ?? "signal \(s)") in a child)", "exit_code")
        default: return ("exited with code \(code)", "exit_code")
        }
    }

    static let signalNames: [Int: String] = [
        1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 6: "ABRT", 7: "BUS", 8: "FPE", 9: "KILL", 11: "SEGV", 13: "PIPE",
        14: "ALRM", 15: "TERM",
    ]

    static func duration(_ seconds: Double) -> String {
        let s = Int(max(0, seconds))
        if s < 120 { return "\(s)s" }
        if s < 7200 { return "\(s / 60)m" }
        return "\(s / 3600)h\(s % 3600 / 60)m"
    }

    /// The record as shown: with the log paths of this state directory.
    public func locating(_ runtime: Runtime, in directory: StateDirectory) -> TerminalRecord {
        var copy = self
        if let id = runtime.id {
            copy.artifacts.log = directory.paneLogPath(runtimeID: id)
            copy.artifacts.rawLog = directory.paneLogPath(runtimeID: id) + ".raw"
        }
        return copy
    }
}
