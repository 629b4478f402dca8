import Foundation
import GRDB
import Glibc
public import Logging
public import MCRunCore
import Synchronization

public struct SupervisorConfiguration: Sendable {
    /// How often a full reconcile pass (tmux snapshot plus ledger) runs.
    public var passIntervalMilliseconds: Int
    public var policy: DeathPolicy
    /// Liveness polling period when the kernel has no pidfd.
    public var pollIntervalMilliseconds: Int
    public var launchTimeoutMilliseconds: Int
    /// Called after the supervisor wrote events (a death) or the CLI nudged it: the event
    /// hook dispatcher looks at once.
    public var onEvents: (@Sendable () -> Void)?

    public init(
        passIntervalMilliseconds: Int = 15_000, policy: DeathPolicy = DeathPolicy(), pollIntervalMilliseconds: Int = 250,
        launchTimeoutMilliseconds: Int = 10_000
    ) {
        self.passIntervalMilliseconds = passIntervalMilliseconds
        self.policy = policy
        self.pollIntervalMilliseconds = pollIntervalMilliseconds
        self.launchTimeoutMilliseconds = launchTimeoutMilliseconds
    }
}

/// The supervision loop, on its own thread so that blocking work (tmux calls, /proc scans,
/// SQLite) never stalls the cooperative pool, and so that a stuck loop shows as a stale
/// `lastFullPass` to the watchdog timer instead of stalling the timer too.
///
/// One thread owns every piece of loop state; other threads talk to it only through the
/// inbox and `EventPoller.wake()`.
public final class Supervisor: @unchecked Sendable {
    public let context: MCRunContext
    public let configuration: SupervisorConfiguration
    let logger: Logger
    let notifier: any ServiceNotifying
    let deaths: DeathHandler
    /// False when the kernel refuses pidfds: agents are then polled.
    public let eventDriven: Bool
    private let poller: EventPoller

    private struct Shared {
        var stopRequested = false
        var inbox: [Message] = []
        var finished = false
        var waiter: CheckedContinuation<Void, Never>?
        var counts = Counts()
        var passFailure: String?
    }

    private enum Message {
        case relaunchDone(retry: PendingRetry, result: RelaunchResult)
        case finishDone(runtimeID: Int64)
    }

    /// How a relaunch attempt ended, for the loop's bookkeeping.
    private enum RelaunchResult {
        case launched(Runtime)
        /// Claimed, cancelled, refused for good or escalated: nothing more to try.
        case finished
        /// Refused for now (kill switch, capacity): still pending, tried again after the next pass.
        case deferred
    }

    struct Counts: Sendable, Equatable {
        var live = 0
        var busy = 0
        var escalated = 0
    }

    private let shared = Mutex(Shared())
    /// CLOCK_MONOTONIC ns at the end of the last pass in which both the ledger and tmux answered; 0: none yet.
    private let lastFullPass = Atomic<Int64>(0)

    // Loop-thread state.
    private struct Watch {
        var runtime: Runtime
        var handle: ProcessHandle
    }
    private var watched: [Int64: Watch] = [:]
    private var polled: Set<Int64> = []
    private var retries: [String: PendingRetry] = [:]
    private var relaunching: Set<String> = []
    /// Tickets whose retry was refused for now; not tried again before the next pass.
    private var deferred: Set<String> = []
    /// Runtimes recorded dead whose live agent is left alone while the kill switch is on (logged once).
    private var heldByKillSwitch: Set<Int64> = []
    private var finishing: Set<Int64> = []
    private var reportedOrphans: Set<String> = []
    private var readySent = false
    private var nextPass: Int64 = 0
    private var nextPoll: Int64 = 0

    public init(context: MCRunContext, configuration: SupervisorConfiguration, notifier: any ServiceNotifying, logger: Logger) throws(MCRunError) {
        self.context = context
        self.configuration = configuration
        self.notifier = notifier
        self.logger = logger
        deaths = DeathHandler(context: context, policy: configuration.policy, logger: logger)
        eventDriven = !ProcessHandle.pidfdUnavailable
        poller = try EventPoller(nudgePath: context.stateDirectory.serveSocketPath)
    }

    // MARK: Control, from any thread

    public func start() {
        let thread = Thread { [self] in
            runLoop()
            let waiter = shared.withLock { state -> CheckedContinuation<Void, Never>? in
                state.finished = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
        thread.name = "mcrun-supervisor"
        thread.start()
    }

    /// Asks the loop to finish its current step and exit; agents are left running.
    public func stop() {
        shared.withLock { $0.stopRequested = true }
        poller.wake()
    }

    public func waitUntilStopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = shared.withLock { state -> Bool in
                if state.finished { return true }
                state.waiter = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Nanoseconds since the last full pass, nil before the first one.
    public func lastFullPassAge(now: Int64 = Monotonic.now()) -> Int64? {
        let last = lastFullPass.load(ordering: .acquiring)
        return last == 0 ? nil : now - last
    }

    /// The `STATUS=` line: counts as of the last pass, its age, and how deaths are noticed.
    public func statusLine(now: Int64 = Monotonic.now()) -> String {
        let (counts, failure) = shared.withLock { ($0.counts, $0.passFailure) }
        let mode = eventDriven ? "pidfd" : "polling every \(configuration.pollIntervalMilliseconds) ms (no pidfd)"
        guard let age = lastFullPassAge(now: now) else { return "starting: first reconcile pass; \(mode)" }
        var line = "\(counts.live) live, \(counts.busy) busy, \(counts.escalated) escalated; last pass \(age / 1_000_000_000)s ago; \(mode)"
        if let failure { line += "; last pass failed: \(failure)" }
        return line
    }

    private func post(_ message: Message) {
        shared.withLock { $0.inbox.append(message) }
        poller.wake()
    }

    // MARK: The loop

    private func runLoop() {
        if !notifier.isUnderSystemd { ensureTmuxServer() }
        logger.info(
            "supervising \(context.stateDirectory.path)",
            metadata: ["event": "serve_start", "death_detection": "\(eventDriven ? "pidfd" : "polling")"])
        if !eventDriven {
            logger.warning("this kernel refuses pidfd_open; deaths are noticed by polling every \(configuration.pollIntervalMilliseconds) ms")
        }
        while !shared.withLock({ $0.stopRequested }) {
            var now = Monotonic.now()
            if now >= nextPass {
                let ok = reconcile()
                now = Monotonic.now()
                // A failed pass is retried soon; the watchdog sees no fresh pass meanwhile.
                nextPass = now + Int64(ok ? configuration.passIntervalMilliseconds : min(1_000, configuration.passIntervalMilliseconds)) * 1_000_000
            }
            startDueRetries()
            var timeout = (nextPass - now) / 1_000_000
            let wallNow = WallClock.now()
            for retry in retries.values where !relaunching.contains(retry.ticket) && !deferred.contains(retry.ticket) {
                timeout = min(timeout, Int64(max(0, (retry.dueAt - wallNow) * 1000)) + 1)
            }
            if !polled.isEmpty { timeout = min(timeout, max(0, (nextPoll - now) / 1_000_000)) }
            for token in poller.wait(timeoutMilliseconds: Int(max(0, timeout))) {
                switch token {
                case .exited(let runtimeID): reap(runtimeID, liveness: .exited)
                case .nudged:
                    pickUp()
                    // Something changed (a start, the kill switch turned off): relaunches held
                    // back by policy get another attempt now, not at the next pass.
                    deferred.removeAll()
                    configuration.onEvents?()
                case .woken: drainInbox()
                }
            }
            pollWithoutPidfd()
        }
        logger.info("supervision loop stopped; agents keep running", metadata: ["event": "serve_stop"])
    }

    private func drainInbox() {
        let messages = shared.withLock { state -> [Message] in
            defer { state.inbox.removeAll() }
            return state.inbox
        }
        for message in messages {
            switch message {
            case .relaunchDone(let retry, let result):
                relaunching.remove(retry.ticket)
                if case .deferred = result {
                    deferred.insert(retry.ticket)
                    continue
                }
                if retries[retry.ticket]?.runtimeID == retry.runtimeID { retries[retry.ticket] = nil }
                if case .launched(let runtime) = result, runtime.state == .running { watch(runtime) }
            case .finishDone(let runtimeID):
                finishing.remove(runtimeID)
            }
        }
    }

    /// Without systemd nobody else starts mcrun's tmux server. It daemonises, so it outlives serve.
    private func ensureTmuxServer() {
        guard let snapshot = try? context.tmux.snapshot(), !snapshot.serverRunning else { return }
        do {
            try context.tmux.writeConfig()
            let result = try context.tmux.run([["start-server"], ["set-option", "-g", "exit-empty", "off"]])
            if result.succeeded {
                logger.info("started mcrun's tmux server on \(context.tmux.socketPath)")
            } else {
                logger.warning("cannot start mcrun's tmux server: \(result.stderrText)")
            }
        } catch {
            logger.warning("cannot start mcrun's tmux server: \(error)")
        }
    }

    // MARK: Watching agents

    private func watch(_ runtime: Runtime) {
        guard let id = runtime.id, watched[id] == nil, runtime.state == .running, let identity = runtime.identity else { return }
        let liveness = identity.liveness()
        switch liveness {
        case .alive:
            guard let handle = ProcessHandle.open(identity) else {
                // Only an agent known to be gone is a death; one that is alive (no
                // descriptors left) or unreadable is looked at again by the next pass.
                let now = identity.liveness()
                switch now {
                case .exited, .recycled, .otherBoot:
                    reap(id, liveness: now)
                case .alive, .unknown:
                    logger.warning(
                        "cannot open a handle on the agent (\(now.rawValue)); looking again at the next pass", metadata: Self.metadata(runtime))
                }
                return
            }
            watched[id] = Watch(runtime: runtime, handle: handle)
            if handle.pidfd >= 0, poller.watch(pidfd: handle.pidfd, runtimeID: id) {
                // The agent may have exited between the liveness check and epoll_ctl; a
                // level-triggered pidfd reports that at the next wait.
            } else {
                polled.insert(id)
            }
        case .unknown:
            logger.warning("cannot tell whether the agent is alive; not recording anything", metadata: Self.metadata(runtime))
        default:
            reap(id, liveness: liveness)
        }
    }

    private func unwatch(_ runtimeID: Int64) -> ProcessHandle? {
        guard let watch = watched.removeValue(forKey: runtimeID) else { return nil }
        polled.remove(runtimeID)
        if watch.handle.pidfd >= 0 { poller.unwatch(pidfd: watch.handle.pidfd) }
        return watch.handle
    }

    /// The agent is gone (or may be): hand it to the death handler, once.
    private func reap(_ runtimeID: Int64, liveness: AgentIdentity.Liveness) {
        let handle = unwatch(runtimeID)
        do {
            let (runtime, outcome) = try deaths.handle(runtimeID, handle: handle, liveness: liveness)
            configuration.onEvents?()
            if case .died(let record) = outcome, case .retry(let dueAt) = record.decision {
                retries[runtime.ticket] = PendingRetry(ticket: runtime.ticket, runtimeID: runtimeID, dueAt: dueAt, createdAt: WallClock.now())
            }
        } catch {
            // The row is still `running`; the next pass finds the agent gone and tries again.
            logger.error("cannot record a death: \(error.message)", metadata: ["runtime_id": "\(runtimeID)", "event": "death"])
        }
    }

    private func pollWithoutPidfd() {
        guard !polled.isEmpty else { return }
        let now = Monotonic.now()
        guard now >= nextPoll else { return }
        nextPoll = now + Int64(configuration.pollIntervalMilliseconds) * 1_000_000
        for id in polled {
            guard let identity = watched[id]?.runtime.identity else { continue }
            let liveness = identity.liveness()
            if liveness != .alive && liveness != .unknown { reap(id, liveness: liveness) }
        }
    }

    /// After a nudge: start watching runtimes the CLI started, from the ledger alone.
    private func pickUp() {
        do {
            let running = try context.ledger.read { db in
                try Runtime.filter(Runtime.Columns.state == RuntimeState.running.rawValue).fetchAll(db)
            }
            for runtime in running where watched[runtime.id!] == nil { watch(runtime) }
        } catch {
            logger.warning("cannot read the ledger after a nudge: \(error.message)")
        }
    }

    // MARK: Retries

    private func startDueRetries() {
        let now = WallClock.now()
        for retry in retries.values where retry.dueAt <= now && !relaunching.contains(retry.ticket) && !deferred.contains(retry.ticket) {
            relaunching.insert(retry.ticket)
            Thread.detachNewThread { [self] in
                let result = relaunch(retry)
                post(.relaunchDone(retry: retry, result: result))
            }
        }
    }

    /// Runs on a worker thread: a launch waits for the shim, which must not hold up the loop.
    private func relaunch(_ retry: PendingRetry) -> RelaunchResult {
        let actor = context.actor
        let metadata: Logger.Metadata = ["ticket": "\(retry.ticket)", "runtime_id": "\(retry.runtimeID)"]
        let previous: Runtime
        do {
            guard let found = try context.ledger.read({ db in try Ledger.runtime(db, id: retry.runtimeID) }) else { return .finished }
            previous = found
        } catch {
            logger.warning("cannot read the runtime to relaunch: \(error.message)", metadata: metadata)
            return .deferred
        }
        do {
            let runtime = try Launcher(context: context).relaunch(from: previous, timeoutMilliseconds: configuration.launchTimeoutMilliseconds) { db, admitted in
                guard try PendingRetry.claim(db, ticket: retry.ticket, runtimeID: retry.runtimeID) else {
                    throw MCRunError(.declined, "retry_cancelled", "the relaunch of \(retry.ticket) was cancelled or already done")
                }
                try Ledger.appendEvent(
                    db, kind: "retry", runtime: admitted, actor: actor, reason: "silent_retry",
                    data: ["previous_runtime_id": .int(previous.id!), "previous_episode": .int(Int64(previous.episode))])
            }
            logger.info(
                "relaunched \(runtime.ticket) as episode \(runtime.episode)",
                metadata: ["ticket": "\(runtime.ticket)", "runtime_id": "\(runtime.id!)", "event": "retry"])
            return .launched(runtime)
        } catch where error.reason == "retry_cancelled" {
            return .finished
        } catch where error.code == .internalError {
            // Admitted (the retry is spent) but the agent did not start: nothing will run
            // this ticket again without a person.
            logger.error("the relaunch of \(retry.ticket) did not start: \(error.message)", metadata: metadata.merging(["event": "escalation"]) { $1 })
            _ = try? context.ledger.write { db in
                try TicketHealth.escalate(db, ticket: retry.ticket, runtime: error.runtime ?? previous, reason: "the silent relaunch did not start: \(error.message)", actor: actor)
            }
            return .finished
        } catch {
            return refused(retry, previous: previous, error: error, metadata: metadata)
        }
    }

    /// Refusals that pass by themselves (or by an operator's switch): the retry stays owed.
    static let passingRefusals: Set<String> = ["killswitch", "capacity", "capacity_unknown"]

    /// Refused by the same admission as `start`. While the kill switch is on or capacity is
    /// full the retry stays pending and is tried again after each pass; anything else (a
    /// parked ticket, a live runtime started meanwhile) drops it. Either way `retry_refused`
    /// is recorded once per reason, not once per attempt.
    private func refused(_ retry: PendingRetry, previous: Runtime, error: MCRunError, metadata: Logger.Metadata) -> RelaunchResult {
        let actor = context.actor
        let keep = Self.passingRefusals.contains(error.reason)
        let recorded = try? context.ledger.write { db -> Bool in
            if keep {
                guard try PendingRetry.fetchOne(db, key: retry.ticket)?.runtimeID == retry.runtimeID else { return false }
                let last = try String.fetchOne(
                    db, sql: "SELECT reason FROM events WHERE kind = 'retry_refused' AND runtime_id = ? ORDER BY id DESC LIMIT 1",
                    arguments: [retry.runtimeID])
                guard last != error.reason else { return false }
            } else {
                guard try PendingRetry.claim(db, ticket: retry.ticket, runtimeID: retry.runtimeID) else { return false }
            }
            try Ledger.appendEvent(
                db, kind: "retry_refused", runtime: previous, actor: actor, reason: error.reason,
                data: ["message": .string(error.message), "still_pending": .bool(keep)])
            return true
        }
        if recorded == true {
            logger.warning(
                "relaunch of \(retry.ticket) refused\(keep ? " for now; tried again after each pass" : ""): \(error.message)",
                metadata: metadata.merging(["event": "retry_refused"]) { $1 })
        }
        return keep ? .deferred : .finished
    }

    // MARK: Reconcile

    /// One full pass: ONE tmux snapshot, then the ledger. True when both answered.
    private func reconcile() -> Bool {
        let snapshot: TmuxServer.Snapshot
        do {
            snapshot = try context.tmux.snapshot()
        } catch {
            return passFailed("tmux did not answer: \(error)")
        }
        let live: [Runtime]
        do {
            live = try context.ledger.read { db in
                try Runtime.filter(sql: "state IN ('launching','running','stopping')").fetchAll(db)
            }
        } catch {
            return passFailed("the ledger did not answer: \(error.message)")
        }

        let liveIDs = Set(live.compactMap(\.id))
        for id in Array(watched.keys) where !liveIDs.contains(id) { _ = unwatch(id) }
        for runtime in live { reconcile(runtime) }

        let liveSessions = Set(live.map(\.sessionName))
        reconcileSessions(snapshot.panes.filter { !liveSessions.contains($0.sessionName) })

        // Read after this pass's deaths and healings: retries owed for deaths it found (or
        // recorded while serve was down) are due now, not a pass later; and so that STATUS=
        // (and READY's) is current.
        let counts: Counts
        do {
            (counts, retries) = try context.ledger.read { db in
                let pending = try PendingRetry.all(db)
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT (SELECT count(*) FROM runtimes WHERE state IN ('launching','running','stopping')) AS live,
                               (SELECT count(*) FROM runtimes WHERE state = 'running' AND busy = 1) AS busy,
                               (SELECT count(*) FROM tickets WHERE escalated = 1) AS escalated
                        """)
                return (
                    Counts(live: row?["live"] ?? 0, busy: row?["busy"] ?? 0, escalated: row?["escalated"] ?? 0),
                    Dictionary(pending.map { ($0.ticket, $0) }, uniquingKeysWith: { a, _ in a })
                )
            }
        } catch {
            return passFailed("the ledger did not answer: \(error.message)")
        }
        // Refused retries get one more attempt per pass.
        deferred.removeAll()
        shared.withLock { state in
            state.counts = counts
            state.passFailure = nil
        }
        lastFullPass.store(Monotonic.now(), ordering: .releasing)
        if !readySent {
            readySent = true
            notifier.ready(status: statusLine())
            logger.info(
                "first reconcile done; ready",
                metadata: ["event": "ready", "live": "\(counts.live)", "watched": "\(watched.count)"])
        }
        return true
    }

    private func passFailed(_ why: String) -> Bool {
        let repeated = shared.withLock { state -> Bool in
            defer { state.passFailure = why }
            return state.passFailure == why
        }
        if !repeated { logger.error("reconcile pass failed: \(why)", metadata: ["event": "reconcile_failed"]) }
        return false
    }

    private func reconcile(_ runtime: Runtime) {
        let id = runtime.id!
        switch runtime.state {
        case .running:
            // The safety net under the pidfds: whatever the ledger calls running is checked.
            guard let identity = runtime.identity else { return }
            let liveness = identity.liveness()
            if liveness == .alive {
                if watched[id] == nil { watch(runtime) } else { watched[id]?.runtime = runtime }
            } else if liveness != .unknown {
                reap(id, liveness: liveness)
            }
        case .launching:
            guard runtime.isAbandonedLaunch else { return }
            do {
                let result = try context.ledger.applyIfCurrent(Transition.launchFailed, to: id, actor: context.actor, reason: "launcher_gone")
                guard result.applied else { return }
                let report = context.teardown(result.runtime)
                logger.warning(
                    "launch abandoned by its launcher; marked failed",
                    metadata: Self.metadata(runtime).merging(["event": "launch_failed", "leftovers_killed": "\(report.leftoversKilled)"]) { $1 })
            } catch {
                logger.warning("cannot fail an abandoned launch: \(error.message)", metadata: Self.metadata(runtime))
            }
        case .stopping:
            guard runtime.isAbandonedStop(), !finishing.contains(id) else { return }
            finishing.insert(id)
            logger.warning("stop left unfinished by its stopper; finishing it", metadata: Self.metadata(runtime).merging(["event": "stop"]) { $1 })
            Thread.detachNewThread { [self] in
                _ = try? Stopper(context: context).finish(
                    runtime, options: Stopper.Options(reason: "stop_resumed", graceMilliseconds: 5_000), endEvent: .stopped)
                post(.finishDone(runtimeID: id))
            }
        default:
            break
        }
    }

    /// Sessions that no live runtime owns: a live agent of a runtime recorded dead is
    /// re-adopted; what belongs to an ended runtime is removed; the rest are orphans.
    private func reconcileSessions(_ panes: [TmuxServer.Pane]) {
        let names = Array(Set(panes.map(\.sessionName)))
        var seen: Set<String> = []
        defer { reportedOrphans.formIntersection(seen) }
        guard !names.isEmpty else { return }
        let owners: [String: Runtime]
        do {
            owners = try context.ledger.read { db in
                let rows = try Runtime.filter(names.contains(Runtime.Columns.sessionName)).fetchAll(db)
                return Dictionary(rows.map { ($0.sessionName, $0) }, uniquingKeysWith: { a, b in a.episode >= b.episode ? a : b })
            }
        } catch {
            logger.warning("cannot read the owners of sessions: \(error.message)")
            return
        }
        for pane in panes {
            guard let runtime = owners[pane.sessionName] else {
                let key = "\(pane.sessionID)/\(pane.panePID)"
                seen.insert(key)
                reportOrphan(pane, key: key)
                continue
            }
            guard !runtime.state.isLive else { continue }
            let agentAlive = !pane.dead && runtime.identity?.pid == pane.panePID && runtime.identity?.liveness() == .alive
            if agentAlive && runtime.state == .dead {
                switch heal(runtime, pane: pane) {
                case .healed, .leftAlone: continue
                case .refused: break
                }
            }
            removeLeftover(runtime, pane: pane, agentAlive: agentAlive)
        }
    }

    private enum Healing {
        case healed
        /// The kill switch is on: neither re-adopted nor killed; the operator decides.
        case leftAlone
        /// The ticket may not run it (parked, another live runtime): it is removed.
        case refused
    }

    /// Re-adopts a live agent whose runtime was recorded dead, if the ticket may run it. The
    /// death was not one: it is taken back, with the escalation it caused and the end record.
    private func heal(_ runtime: Runtime, pane: TmuxServer.Pane) -> Healing {
        let actor = context.actor
        let maxSilentRetries = configuration.policy.maxSilentRetries
        let id = runtime.id!
        do {
            let (healed, killSwitch) = try context.ledger.write { db -> (Runtime?, Bool) in
                if try Ledger.setting(db, .killswitch) != nil { return (nil, true) }
                guard var ticket = try Ledger.ticket(db, id: runtime.ticket), !ticket.parked,
                    try Ledger.liveRuntime(db, ticket: runtime.ticket) == nil
                else { return (nil, false) }
                let now = WallClock.now()
                let deathTakenBack = ticket.deaths > 0
                if deathTakenBack { ticket.deaths -= 1 }
                // Escalation comes when deaths exceed the silent retries; below that again,
                // it was this death that escalated the ticket.
                let escalationCleared = ticket.escalated && ticket.deaths <= maxSilentRetries
                if escalationCleared {
                    ticket.escalated = false
                    ticket.escalatedReason = nil
                    ticket.escalatedAt = nil
                }
                if deathTakenBack || escalationCleared {
                    ticket.updatedAt = now
                    try ticket.update(db)
                }
                try PendingRetry.cancel(db, ticket: ticket.id)
                let healed = try Transition.healed.apply(
                    db, runtimeID: id, actor: actor, reason: "agent_alive",
                    data: [
                        "pid": .int(Int64(pane.panePID)), "session": .string(pane.sessionName),
                        "death_taken_back": .bool(deathTakenBack), "escalation_cleared": .bool(escalationCleared),
                    ], now: now
                ) { r in
                    r.endedAt = nil
                    r.endReason = nil
                    r.endedBy = nil
                    r.exitCode = nil
                    r.exitSignal = nil
                    r.terminalRecord = nil
                    r.sessionID = pane.sessionID
                    r.paneID = pane.paneID
                }
                return (healed, false)
            }
            if killSwitch {
                if heldByKillSwitch.insert(id).inserted {
                    logger.warning(
                        "agent recorded dead is alive; the kill switch is on, so it is neither re-adopted nor killed until the switch is off",
                        metadata: Self.metadata(runtime).merging(["event": "healed"]) { $1 })
                }
                return .leftAlone
            }
            heldByKillSwitch.remove(id)
            guard let healed else { return .refused }
            logger.warning("agent recorded dead is alive; re-adopted", metadata: Self.metadata(healed).merging(["event": "healed"]) { $1 })
            retries[healed.ticket] = nil
            watch(healed)
            return .healed
        } catch {
            logger.warning("cannot re-adopt a live agent: \(error.message)", metadata: Self.metadata(runtime))
            return .leftAlone
        }
    }

    /// An ended runtime's session is still there: whatever runs in it must not.
    private func removeLeftover(_ runtime: Runtime, pane: TmuxServer.Pane, agentAlive: Bool) {
        var handle: ProcessHandle?
        if agentAlive, let identity = runtime.identity, let h = ProcessHandle.open(identity) {
            h.signal(SIGKILL)
            _ = h.waitForExit(timeoutMilliseconds: 2_000)
            handle = h
        }
        let report = context.teardown(runtime, handle: handle)
        var data = report.data
        if case .object(var fields) = data {
            fields["session"] = .string(pane.sessionName)
            fields["agent_killed"] = .bool(handle != nil)
            data = .object(fields)
        }
        let actor = context.actor
        _ = try? context.ledger.write { db in
            try Ledger.appendEvent(
                db, kind: "leftover_session", runtime: runtime, actor: actor,
                reason: agentAlive ? "agent_alive_after_end" : "session_left_behind", data: data)
        }
        logger.warning(
            "removed the session of an ended runtime", metadata: Self.metadata(runtime).merging(["event": "leftover_session"]) { $1 })
    }

    private func reportOrphan(_ pane: TmuxServer.Pane, key: String) {
        guard !reportedOrphans.contains(key) else { return }
        reportedOrphans.insert(key)
        let actor = context.actor
        do {
            let recorded = try context.ledger.write { db -> Bool in
                let already = try Int.fetchOne(
                    db,
                    sql: "SELECT count(*) FROM events WHERE kind = 'orphan' AND json_extract(data, '$.session_id') = ? AND json_extract(data, '$.pane_pid') = ?",
                    arguments: [pane.sessionID, Int(pane.panePID)]) ?? 0
                guard already == 0 else { return false }
                try Ledger.appendEvent(
                    db, kind: "orphan", actor: actor, reason: "session_without_runtime",
                    data: [
                        "session": .string(pane.sessionName), "session_id": .string(pane.sessionID),
                        "pane": .string(pane.paneID), "pane_pid": .int(Int64(pane.panePID)),
                    ])
                return true
            }
            if recorded {
                logger.warning("session \(pane.sessionName) belongs to no runtime", metadata: ["event": "orphan", "session": "\(pane.sessionName)"])
            }
        } catch {
            reportedOrphans.remove(key)
        }
    }

    static func metadata(_ runtime: Runtime) -> Logger.Metadata {
        ["ticket": "\(runtime.ticket)", "runtime_id": "\(runtime.id ?? 0)", "episode": "\(runtime.episode)"]
    }
}
