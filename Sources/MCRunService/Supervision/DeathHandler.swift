public import Logging
public import MCRunCore

/// The one place an agent's death is handled, however it was noticed (pidfd, polling, a
/// reconcile pass): capture its exit status and last screen, kill what it left behind,
/// remove its session, then in one transaction move the runtime to `dead` (or `completed`,
/// when it had reported DONE) and count the death on the ticket under the policy.
public struct DeathHandler: Sendable {
    public let context: MCRunContext
    public let policy: DeathPolicy
    public let logger: Logger

    public init(context: MCRunContext, policy: DeathPolicy, logger: Logger) {
        self.context = context
        self.policy = policy
        self.logger = logger
    }

    public enum Outcome: Sendable, Equatable {
        /// Another process moved the runtime first (a stop, an earlier serve): nothing done.
        case notRunning(RuntimeState)
        /// The agent had reported DONE: its exit is the end of the work, not a death.
        case completed
        case died(TicketHealth.DeathRecord)
    }

    /// Why the agent is considered gone, as recorded on the death.
    public static func reason(for liveness: AgentIdentity.Liveness) -> String {
        switch liveness {
        case .recycled: "pid_recycled"
        case .otherBoot: "host_rebooted"
        default: "agent_exited"
        }
    }

    /// `handle` is the pidfd handle held while the agent ran: it still knows the exit status.
    /// `liveness` must say the agent is gone (exited, PID recycled, other boot): an agent
    /// alive or of unknown state is refused with nothing torn down and nothing recorded.
    @discardableResult
    public func handle(_ runtimeID: Int64, handle: ProcessHandle?, liveness: AgentIdentity.Liveness) throws(MCRunError) -> (runtime: Runtime, outcome: Outcome) {
        switch liveness {
        case .exited, .recycled, .otherBoot:
            break
        case .alive, .unknown:
            throw MCRunError(
                .refused, "agent_not_gone",
                "runtime \(runtimeID): the agent is \(liveness.rawValue), not gone; no death recorded, nothing torn down")
        }
        guard let runtime = try context.ledger.read({ db in try Ledger.runtime(db, id: runtimeID) }) else {
            throw MCRunError(.notFound, "no_runtime", "runtime \(runtimeID) does not exist")
        }
        guard runtime.state == .running else { return (runtime, .notRunning(runtime.state)) }
        let report = context.teardown(runtime, handle: handle)
        let actor = context.actor
        let policy = policy
        let result = try context.ledger.write { db -> (Runtime, Outcome) in
            guard let current = try Ledger.runtime(db, id: runtimeID), current.state == .running else {
                return (runtime, .notRunning((try Ledger.runtime(db, id: runtimeID))?.state ?? .dead))
            }
            if current.verdict?.uppercased() == "DONE" {
                let completed = try Transition.completed.apply(db, runtimeID: runtimeID, actor: actor, reason: "done", data: report.data) { r in
                    report.apply(to: &r)
                    r.endedBy = actor
                    r.busy = false
                }
                try TicketHealth.recordCompletion(db, ticket: completed.ticket)
                return (try TerminalRecord.refresh(db, completed), .completed)
            }
            var data = report.data
            if case .object(var fields) = data {
                fields["liveness"] = .string(liveness.rawValue)
                data = .object(fields)
            }
            let dead = try Transition.died.apply(db, runtimeID: runtimeID, actor: actor, reason: Self.reason(for: liveness), data: data) { r in
                report.apply(to: &r)
                r.endedBy = actor
                r.busy = false
            }
            let record = try TicketHealth.recordDeath(db, runtime: dead, policy: policy, actor: actor)
            return (try TerminalRecord.refresh(db, dead), .died(record))
        }
        log(result.0, result.1)
        return result
    }

    private func log(_ runtime: Runtime, _ outcome: Outcome) {
        var metadata: Logger.Metadata = [
            "ticket": "\(runtime.ticket)", "runtime_id": "\(runtime.id ?? 0)", "episode": "\(runtime.episode)",
        ]
        if let code = runtime.exitCode { metadata["exit_code"] = "\(code)" }
        if let signal = runtime.exitSignal { metadata["exit_signal"] = "\(signal)" }
        if let killed = runtime.leftoversKilled, killed > 0 { metadata["leftovers_killed"] = "\(killed)" }
        switch outcome {
        case .notRunning(let state):
            logger.debug("agent gone, runtime already \(state.rawValue)", metadata: metadata)
        case .completed:
            metadata["event"] = "completion"
            logger.info("agent exited after reporting DONE", metadata: metadata)
        case .died(let record):
            metadata["event"] = "death"
            metadata["deaths"] = "\(record.deaths)"
            switch record.decision {
            case .retry:
                logger.info("agent died; relaunching once after \(policy.retryDelayMilliseconds) ms", metadata: metadata)
            case .escalate:
                if record.escalatedNow { metadata["event"] = "escalation" }
                logger.warning("agent died again; ticket escalated, not relaunched", metadata: metadata)
            }
        }
    }
}
