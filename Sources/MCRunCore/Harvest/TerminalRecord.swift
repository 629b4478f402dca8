public import GRDB

/// What a dispatcher needs to know about a runtime that ended without an accepted verdict
/// (or went silent): what happened, why, whether running it again is safe, whether a
/// person must look, and what to do next. Derived by one function from the facts the
/// ledger holds at the end, and stored with the runtime, so it survives log rotation.
public struct TerminalRecord: Codable, Sendable, Equatable {
    /// completed, stopped, parked, dead, launch_failed or silent.
    public var status: String
    public var summary: String
    /// A machine word: done, stop_requested, parked, exited_without_signal, exit_code,
    /// killed_by_signal, exit_unknown, command_not_executable, launch_<reason>, silent.
    public var rootCause: String
    public var retrySafe: Bool
    public var humanInputNeeded: Bool
    public var nextActions: [String]
    public var artifacts: Artifacts
    public var endReason: String?
    public var endedBy: String?
    public var endedAt: Double?
    /// The ticket's standing when the record was made.
    public var deaths: Int
    public var escalated: Bool
    public var verdict: String?

    public struct Artifacts: Codable, Sendable, Equatable {
        public var exitCode: Int?
        public var exitSignal: Int?
        public var leftoversKilled: Int
        /// Filled in when the record is shown: paths depend on where the state directory is.
        public var log: String?
        public var rawLog: String?

        public enum CodingKeys: String, CodingKey {
            case exitCode = "exit_code", exitSignal = "exit_signal", leftoversKilled = "leftovers_killed"
            case log, rawLog = "raw_log"
        }
    }

    public enum CodingKeys: String, CodingKey {
        case status, summary, rootCause = "root_cause", retrySafe = "retry_safe"
        case humanInputNeeded = "human_input_needed", nextActions = "next_actions", artifacts
        case endReason = "end_reason", endedBy = "ended_by", endedAt = "ended_at", deaths, escalated, verdict
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

    /// The one derivation: every end path (stop, park, death, completion, launch failure)
    /// and the harvest timeout produce their record here.
    /// Re-derives a stored record after the ticket changed in the same transaction (the
    /// death count, an escalation), so the record says what the ticket now is.
    public static func refresh(_ db: Database, _ runtime: Runtime) throws -> Runtime {
        var updated = runtime
        updated.terminalRecord = derive(runtime, ticket: try Ledger.ticket(db, id: runtime.ticket))
        try updated.update(db)
        return updated
    }

    public static func derive(_ runtime: Runtime, ticket: Ticket?, silence: Silence? = nil) -> TerminalRecord {
        let t = runtime.ticket
        let deaths = ticket?.deaths ?? 0
        let escalated = ticket?.escalated ?? false
        let parked = ticket?.parked ?? false
        let exit = describeExit(code: runtime.exitCode, signal: runtime.exitSignal)
        let leftovers = runtime.leftoversKilled ?? 0
        let leftoversNote = leftovers > 0 ? "; \(leftovers) leftover process\(leftovers == 1 ? "" : "es") killed" : ""
        var record = TerminalRecord(
            status: runtime.state.rawValue, summary: "", rootCause: "", retrySafe: false, humanInputNeeded: false,
            nextActions: [],
            artifacts: Artifacts(exitCode: runtime.exitCode, exitSignal: runtime.exitSignal, leftoversKilled: leftovers),
            endReason: runtime.endReason, endedBy: runtime.endedBy, endedAt: runtime.endedAt,
            deaths: deaths, escalated: escalated, verdict: runtime.verdict)

        if let silence, runtime.state.isLive {
            record.status = "silent"
            record.rootCause = "silent"
            record.summary = "episode \(runtime.episode) is alive but printed nothing for \(duration(silence.seconds)) (harvest timeout \(duration(silence.limit))); it may be waiting for input or hung"
            record.retrySafe = false
            record.humanInputNeeded = true
            record.nextActions = ["read the transcript: mcrun logs \(t)", "look at the pane: mcrun attach \(t)", "end it if it is hung: mcrun stop \(t) --reason silent"]
            return record
        }
        if runtime.verdict == "DONE" {
            record.status = "completed"
            record.rootCause = "done"
            record.summary = "episode \(runtime.episode) reported DONE and ended (\(exit.text))\(leftoversNote)"
            record.retrySafe = false
            record.humanInputNeeded = false
            record.nextActions = ["collect the result: mcrun harvest \(t) --json"]
            return record
        }
        switch runtime.state {
        case .stopped:
            let who = runtime.endedBy.map { " by \($0)" } ?? ""
            let why = runtime.endReason.map { " (\($0))" } ?? ""
            if parked {
                record.status = "parked"
                record.rootCause = "parked"
                record.summary = "episode \(runtime.episode) was stopped\(who) when the ticket was parked\(ticket?.parkedReason.map { " (\($0))" } ?? why)\(leftoversNote)"
                record.retrySafe = false
                record.humanInputNeeded = true
                record.nextActions = ["unpark when it may run again: mcrun unpark \(t)", "read the transcript: mcrun logs \(t)"]
            } else {
                record.rootCause = "stop_requested"
                record.summary = "episode \(runtime.episode) was stopped\(who)\(why); agent \(exit.text)\(leftoversNote)"
                record.retrySafe = true
                record.humanInputNeeded = false
                record.nextActions = ["start it again if the work is still wanted: mcrun start \(t) -- COMMAND"]
            }
        case .dead:
            record.rootCause = exit.cause
            record.summary = "episode \(runtime.episode) ended without a completion signal: agent \(exit.text)\(leftoversNote)"
            let permanent = exit.cause == "command_not_executable"
            record.retrySafe = !permanent && !escalated && !parked
            record.humanInputNeeded = permanent || escalated || parked
            if escalated {
                record.summary += "; the ticket is escalated after \(deaths) death\(deaths == 1 ? "" : "s")"
                record.nextActions = ["read the transcript: mcrun logs \(t)", "fix the cause, then: mcrun reset \(t)"]
            } else if permanent {
                record.nextActions = ["check the agent's command and environment: mcrun show \(t)", "read the transcript: mcrun logs \(t)"]
            } else {
                record.nextActions = ["read the transcript: mcrun logs \(t)", "a first death is relaunched by mcrun serve; a second one escalates"]
            }
        case .launchFailed:
            let reason = runtime.endReason ?? "unknown"
            let permanent = permanentLaunchFailures.contains(reason)
            record.rootCause = "launch_" + reason
            record.summary = "episode \(runtime.episode) never started: \(reason)"
            record.retrySafe = !permanent && !parked
            record.humanInputNeeded = permanent
            record.nextActions = permanent
                ? ["fix the command or working directory, then: mcrun start \(t) -- COMMAND"]
                : ["start it again: mcrun start \(t) -- COMMAND"]
        case .completed:
            // Completed without a DONE verdict on the row cannot happen through mcrun; say what is known.
            record.rootCause = "done"
            record.summary = "episode \(runtime.episode) completed (\(exit.text))"
            record.nextActions = ["collect the result: mcrun harvest \(t) --json"]
        case .launching, .running, .stopping:
            record.rootCause = "running"
            record.summary = "episode \(runtime.episode) has not ended"
            record.nextActions = ["follow it: mcrun logs \(t) -f"]
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
