import GRDB

/// The one path that ends a runtime, whatever ended it: a stop or park, a death (noticed
/// by the service or by any command that touched the runtime first), a launch that failed.
///
/// Phase one records the end: the exit status and last screen are read while tmux still
/// holds the dead pane, then ONE transaction moves the runtime to its end state, accounts
/// for it on the ticket (a death counted under the policy, a relaunch owed again) and marks
/// the teardown owed. Phase two tears down (leftover processes, the session, the pane log's
/// tail) and clears the mark. A crash between the two loses nothing recorded: whoever next
/// finds the mark finishes the teardown.
public struct Ending: Sendable {
    public let context: MCRunContext

    public init(context: MCRunContext) { self.context = context }

    public enum Cause: Sendable {
        /// The agent went away on its own; how it was found gone.
        case death(AgentIdentity.Liveness)
        /// Ended by `stop` or `park`, once the agent is gone; `detail` says how it was stopped.
        case stop(reason: String, parked: Bool, detail: JSONValue)
        /// The agent never started.
        case launchFailed(reason: String, detail: JSONValue)
        /// The shim recorded the agent's identity, then its exec failed: nothing of the agent ran.
        case execFailed(detail: JSONValue)
        /// A stop or park carried out while the ledger could not be written, kept in the
        /// state directory's reserve: its end is that stop, never a death.
        case stoppedUnrecorded(IntentReserve.Intent)
        /// The agent went away with mcrun's tmux server: a host incident, not the ticket's
        /// death (`TmuxLoss`). Decided by `record` for deaths, never asked for by a caller.
        case tmuxLost(AgentIdentity.Liveness)
    }

    public struct Subject: Sendable {
        public var runtime: Runtime
        public var cause: Cause
        /// Held from before the agent exited: the kernel still has its exit status.
        public var handle: ProcessHandle?
        /// When the service noticed the death (wall clock), kept on the death event so the
        /// time from notice to record can be measured.
        public var noticedAt: Double?

        public init(_ runtime: Runtime, _ cause: Cause, handle: ProcessHandle? = nil, noticedAt: Double? = nil) {
            self.runtime = runtime
            self.cause = cause
            self.handle = handle
            self.noticedAt = noticedAt
        }
    }

    public struct Ended: Sendable {
        public var runtime: Runtime
        /// False when another process ended (or moved) the runtime first; `runtime` is then as it now is.
        public var applied: Bool
        /// For a death: the count and what the policy decided.
        public var death: TicketTransition.DeathRecord?
        /// The agent ended after its DONE was accepted.
        public var completed = false
        /// The end was a host incident's (the tmux server lost, the breaker), not the ticket's death.
        public var hostIncident: HostIncident?
    }

    /// Infrastructure causes of a failed launch: a relaunch that failed for one of these is owed again.
    static let infrastructureLaunchFailures: Set<String> = [
        "tmux_failed", "launcher_gone", "launch_timeout", "no_identity", "ledger_unwritable", "shim_missing", "launch_socket",
    ]

    /// Records and tears down one runtime.
    @discardableResult
    public func end(_ runtime: Runtime, _ cause: Cause, handle: ProcessHandle? = nil) throws(MCRunError) -> Ended {
        var ended = try record([Subject(runtime, cause, handle: handle)])[0]
        if ended.applied { ended.runtime = tearDown(ended.runtime, handle: handle) }
        return ended
    }

    /// Phase one for a batch: the exit statuses the kernel (or, for agents nobody held a
    /// handle on, one tmux snapshot) already has, then every end in one transaction. Nothing
    /// is waited for: until tmux has reaped the agent the kernel has no status to give, and
    /// waiting for it would put tmux's scheduling into every death's latency. The teardown
    /// reads what is missing, and the screen, before the session goes.
    /// The answers are in the same order as the subjects.
    public func record(_ subjects: [Subject]) throws(MCRunError) -> [Ended] {
        guard !subjects.isEmpty else { return [] }
        // An agent found gone after a stop that the ledger could not record was stopped.
        let reserve = IntentReserve(directory: context.stateDirectory)
        var subjects = subjects
        var intents: [Int64: IntentReserve.Intent] = [:]
        if subjects.contains(where: { if case .death = $0.cause { true } else { false } }) {
            for intent in reserve.pending() where intent.kind != .killswitch {
                if let id = intent.runtimeID { intents[id] = intent }
            }
            for i in subjects.indices {
                if case .death = subjects[i].cause, let intent = intents[subjects[i].runtime.id!] { subjects[i].cause = .stoppedUnrecorded(intent) }
            }
        }
        let handles = Dictionary(subjects.compactMap { s in s.handle.map { (s.runtime.id!, $0) } }, uniquingKeysWith: { a, _ in a })
        // An agent that died soon after it started may be one of several failing for one
        // cause (the host breaker): its exit status, which tells failing from being killed,
        // is worth a short wait.
        let fast = (try? context.ledger.read { db in try BreakerPolicy.load(db) })?.fastDeathSeconds ?? BreakerPolicy().fastDeathSeconds
        let now = WallClock.now()
        let young = subjects.contains { s in
            guard case .death = s.cause, let started = s.runtime.startedAt else { return false }
            return now - started <= fast
        }
        let facts = context.endFacts(subjects.map(\.runtime), handles: handles, waitMilliseconds: young ? 250 : 0, screens: false)
        // Agents that went away with the tmux server did not die on their own.
        let deaths = subjects.filter { if case .death = $0.cause { true } else { false } }.map(\.runtime)
        if context.tmuxServerLost(with: deaths) {
            for i in subjects.indices { if case .death(let liveness) = subjects[i].cause { subjects[i].cause = .tmuxLost(liveness) } }
        }
        let actor = context.actor
        let ended = try context.ledger.write { db in
            let policy = try DeathPolicy.load(db)
            let now = WallClock.now()
            return try subjects.map { s in
                try Self.record(
                    db, runtimeID: s.runtime.id!, cause: s.cause, facts: facts[s.runtime.id!] ?? EndFacts(), policy: policy, actor: actor, now: now,
                    noticedAt: s.noticedAt)
            }
        }
        for s in subjects { if case .stoppedUnrecorded(let intent) = s.cause { reserve.clear(intent) } }
        return ended
    }

    /// Phase one inside the caller's write transaction, for ends that have no facts to read
    /// (a launch abandoned by its launcher, found during admission; the shim's own failure).
    static func record(
        _ db: Database, runtimeID: Int64, cause: Cause, facts: EndFacts, policy: DeathPolicy, actor: String, now: Double,
        noticedAt: Double? = nil
    ) throws -> Ended {
        guard let current = try Ledger.runtime(db, id: runtimeID) else {
            throw MCRunError(.notFound, "no_runtime", "runtime \(runtimeID) does not exist")
        }
        let done = current.verdict == .done
        var blame = HostBreaker.Blame.agent
        let transition: Transition
        let reason: String
        var data = facts.data
        switch cause {
        case .death(let liveness), .tmuxLost(let liveness):
            // Only an agent known to be gone is a death: never record a live or unreadable one dead.
            guard liveness != .alive && liveness != .unknown else {
                throw MCRunError(
                    .refused, "agent_not_gone", "runtime \(runtimeID): the agent is \(liveness.rawValue), not gone; no death recorded, nothing torn down")
            }
            guard current.state == .running else { return Ended(runtime: current, applied: false) }
            if case .tmuxLost = cause, !done {
                transition = .lostWithTmux
                reason = TmuxLoss.reason
            } else {
                transition = done ? .completed : .died
                reason = done ? "done" : Self.deathReason(liveness)
                if !done {
                    var died = current
                    facts.apply(to: &died)
                    blame = try HostBreaker.blame(db, death: died, now: now)
                }
                if blame != .agent { data = data.merging(["charged": false, "host_incident": .string(HostIncident.Kind.breaker.rawValue)]) }
            }
            data = data.merging(["liveness": .string(liveness.rawValue)])
            if let noticedAt { data = data.merging(["noticed_at": .double(noticedAt)]) }
        case .stop(let why, let parked, let detail):
            guard current.state == .launching || current.state == .stopping else { return Ended(runtime: current, applied: false) }
            transition = parked ? (done ? .parkStoppedAfterDone : .parkStopped) : (done ? .stoppedAfterDone : .stopped)
            reason = why
            data = data.merging(detail.objectValue ?? [:])
        case .launchFailed(let why, let detail):
            guard current.state == .launching else { return Ended(runtime: current, applied: false) }
            transition = .launchFailed
            reason = why
            data = data.merging(detail.objectValue ?? [:])
        case .execFailed(let detail):
            guard current.state == .running else { return Ended(runtime: current, applied: false) }
            transition = .execFailed
            reason = "exec_failed"
            data = data.merging(detail.objectValue ?? [:])
        case .stoppedUnrecorded(let intent):
            guard current.state.isLive else { return Ended(runtime: current, applied: false) }
            let late: JSONValue = ["recorded_late": true, "stopped_at": .double(intent.at), "stopped_by": .string(intent.actor)]
            if current.state == .running {
                try Transition.stopRequested.apply(db, runtimeID: runtimeID, actor: intent.actor, reason: intent.reason, data: late, now: now)
            }
            let parked = intent.kind == .park
            transition = parked ? (done ? .parkStoppedAfterDone : .parkStopped) : (done ? .stoppedAfterDone : .stopped)
            reason = intent.reason
            data = data.merging(late.objectValue ?? [:]).merging(["outcome": .string(intent.outcome)])
        }
        var ended = try transition.apply(db, runtimeID: runtimeID, actor: actor, reason: reason, data: data, now: now) { r in
            facts.apply(to: &r)
            r.endReason = reason
            r.endedBy = actor
            r.busy = false
        }
        var result = Ended(runtime: ended, applied: true, completed: ended.state == .completed)
        switch cause {
        case .death where done, .tmuxLost where done:
            try TicketTransition.completion.apply(db, ticket: ended.ticket, actor: actor, now: now)
        case .tmuxLost:
            result.hostIncident = try TmuxLoss.record(db, runtime: ended, actor: actor, now: now)
        case .death where blame != .agent:
            // Blamed on the host by the breaker: not the ticket's death.
            try HostBreaker.charge(db, blame, runtime: ended, actor: actor, now: now)
            result.hostIncident = try Ledger.openIncident(db, kind: .breaker)
        case .death:
            result.death = try TicketTransition.death(runtime: ended, policy: policy).apply(db, ticket: ended.ticket, actor: actor, now: now).death
        case .launchFailed(let why, _):
            if let previous = ended.relaunchOf {
                try owedRelaunchFailed(db, runtime: ended, previous: previous, reason: why, policy: policy, actor: actor, now: now)
            }
        case .execFailed:
            if let previous = ended.relaunchOf {
                try owedRelaunchFailed(db, runtime: ended, previous: previous, reason: "exec_failed", policy: policy, actor: actor, now: now)
            }
        case .stop:
            break
        case .stoppedUnrecorded(let intent):
            try Self.holdStopped(db, intent, runtime: ended, now: now)
        }
        // The ticket's standing changed after the transition derived the record: again, once.
        if result.death != nil || ended.relaunchOf != nil { ended = try TerminalRecord.refresh(db, ended) }
        result.runtime = ended
        return result
    }

    /// A relaunch owed for a death did not start. A cause outside the agent (tmux failed,
    /// its launcher vanished, no identity in time) is the host's: the relaunch stays owed
    /// with a growing delay (capped at 64 retry delays), one `launch_failed` host incident
    /// says so, and the ticket never escalates for it. A cause in the agent's command or
    /// directory escalates the ticket. Never dropped silently.
    static func owedRelaunchFailed(
        _ db: Database, runtime: Runtime, previous: Int64, reason: String, policy: DeathPolicy, actor: String, now: Double
    ) throws {
        if reason == "tmux_down" {
            // The server is its unit's and was down: nothing was tried; owed again, held until it is back.
            var owed = PendingRetry(ticket: runtime.ticket, runtimeID: previous, dueAt: now, createdAt: now)
            owed.heldReason = "tmux_down"
            owed.heldSince = now
            try Ledger.oweRetry(db, owed)
            try Ledger.appendEvent(
                db, kind: "retry_owed", runtime: runtime, actor: actor, reason: reason, data: ["previous_runtime_id": .int(previous)], now: now)
            return
        }
        guard infrastructureLaunchFailures.contains(reason) else {
            try TicketTransition.escalate(reason: "the silent relaunch did not start: \(reason)", runtime: runtime).apply(
                db, ticket: runtime.ticket, actor: actor, now: now)
            return
        }
        let attempts = try Ledger.failedRelaunches(db, of: previous)
        let delay = Double(policy.retryDelayMilliseconds) / 1000 * Double(1 << min(max(attempts - 1, 0), 6))
        var owed = PendingRetry(ticket: runtime.ticket, runtimeID: previous, dueAt: now + max(delay, 0.5), createdAt: now)
        owed.attempts = attempts
        owed.hostIncidentID = try HostLaunchFailures.record(db, runtime: runtime, reason: reason, actor: actor, now: now).id
        try Ledger.oweRetry(db, owed)
        try Ledger.appendEvent(
            db, kind: "retry_owed", runtime: runtime, actor: actor, reason: reason,
            data: ["previous_runtime_id": .int(previous), "attempts": .int(Int64(attempts)), "due_at": .double(owed.dueAt)], now: now)
    }

    /// Why the agent is considered gone, as recorded on the death.
    public static func deathReason(_ liveness: AgentIdentity.Liveness) -> String {
        switch liveness {
        case .recycled: "pid_recycled"
        case .otherBoot: "host_rebooted"
        default: "agent_exited"
        }
    }

    /// Phase two: leftovers, session, transcript; then the mark is cleared with a `teardown`
    /// event. A runtime recorded dead whose agent is alive after all is left for the
    /// service's healing, never hung up. `handle`, the one the record had, gives the kernel's
    /// exit status once tmux has reaped the agent. Returns the runtime as it now is.
    @discardableResult
    public func tearDown(_ runtime: Runtime, handle: ProcessHandle? = nil, lastScreen: String? = nil, excluding: Set<Int32> = []) -> Runtime {
        guard runtime.teardownOwed, let id = runtime.id else { return runtime }
        if runtime.state == .dead, runtime.identity?.liveness() == .alive { return runtime }
        let actor = context.actor
        let statusMissing = runtime.exitCode == nil && runtime.exitSignal == nil
        if statusMissing || runtime.lastScreen == nil {
            // What the record did not wait for (an exit status tmux had not learnt yet, the
            // last screen) is read and kept before the session, and with it both, goes.
            let handles = handle.map { [id: $0] } ?? [:]
            let facts = context.endFacts([runtime], handles: handles, waitMilliseconds: statusMissing ? 300 : 0, screens: true)[id] ?? EndFacts()
            if facts.hasStatus || facts.lastScreen != nil {
                let kept: Void? = try? context.ledger.write { db in
                    guard var current = try Ledger.runtime(db, id: id), current.teardownOwed else { return }
                    if !current.hasExitStatus { facts.apply(to: &current) } else if current.lastScreen == nil { current.lastScreen = facts.lastScreen }
                    current.terminalRecord = TerminalRecord.derive(current, ticket: try Ledger.ticket(db, id: current.ticket))
                    try Ledger.updateRuntime(db, current)
                }
                // Not kept, the session stays: the mark does too, and the next teardown
                // reads them again instead of losing them with the pane.
                guard kept != nil else { return runtime }
            }
        }
        let report = context.clearAway(runtime, excluding: excluding)
        let updated = try? context.ledger.write { db -> Runtime? in
            guard var current = try Ledger.runtime(db, id: id), current.teardownOwed else { return nil }
            current.teardownOwed = false
            current.leftoversKilled = (current.leftoversKilled ?? 0) + report.leftoversKilled
            if let tail = report.transcriptTail { current.transcriptTail = tail }
            if let usage = report.usage { current.usage = usage }
            if current.lastScreen == nil, let lastScreen { current.lastScreen = lastScreen }
            current.terminalRecord = TerminalRecord.derive(current, ticket: try Ledger.ticket(db, id: current.ticket))
            try Ledger.updateRuntime(db, current)
            // With the exit status, which a death recorded in a hurry may have lacked.
            let data = report.data.merging(["exit_code": JSONValue(current.exitCode), "exit_signal": JSONValue(current.exitSignal)])
            try Ledger.appendEvent(db, kind: "teardown", runtime: current, actor: actor, data: data)
            return current
        }
        return (updated ?? nil) ?? runtime
    }

    /// Finishes teardowns a crash left owed (all, or one ticket's). Returns those finished.
    @discardableResult
    public func finishOwedTeardowns(ticket: String? = nil) -> [Runtime] {
        guard let owed = try? context.ledger.read({ db in try Ledger.teardownsOwed(db, ticket: ticket) }) else { return [] }
        return owed.map { tearDown($0) }.filter { !$0.teardownOwed }
    }
}

extension Ending {
    /// Whoever touches a dead runtime reaps it: a writing command (start, adopt, stop, park,
    /// send) ends the ticket's live runtime here when its agent is gone or its launch was
    /// abandoned, counted once with its exit status, before it acts. It also finishes a
    /// teardown a crash left owed (ended a while ago, so not one the service is doing now).
    /// Returns the end it recorded, if any.
    @discardableResult
    public func reapIfGone(ticket: String) throws(MCRunError) -> Ended? {
        let (live, owed) = try context.ledger.read { db in
            (try Ledger.liveRuntime(db, ticket: ticket), try Ledger.teardownsOwed(db, ticket: ticket))
        }
        let stale = WallClock.now() - 5
        for runtime in owed where (runtime.endedAt ?? 0) < stale { tearDown(runtime) }
        guard let live else { return nil }
        switch live.state {
        case .running:
            guard let liveness = live.identity?.liveness(), [.exited, .recycled, .otherBoot].contains(liveness) else { return nil }
            let ended = try end(live, .death(liveness))
            return ended.applied ? ended : nil
        case .launching where live.isAbandonedLaunch:
            let ended = try end(live, .launchFailed(reason: "launcher_gone", detail: [:]))
            return ended.applied ? ended : nil
        default:
            return nil
        }
    }
}
