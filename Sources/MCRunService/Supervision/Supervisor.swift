import Glibc
public import Logging
public import MCRunCore
public import ServiceLifecycle
import Synchronization

public struct SupervisorConfiguration: Sendable {
    /// How often a full reconcile pass (tmux snapshot plus ledger) runs.
    public var passIntervalMilliseconds: Int
    /// Liveness polling period when the kernel has no pidfd.
    public var pollIntervalMilliseconds: Int
    public var launchTimeoutMilliseconds: Int
    /// How long a graceful shutdown waits for relaunches, stops taken over and teardowns
    /// under way (a launch takes well under a second): inside the unit's `TimeoutStopSec=15s`,
    /// so the log names what is left before systemd would kill it.
    public var shutdownWaitMilliseconds = 10_000
    /// Called after the supervisor wrote events (a death) or the CLI nudged it: the event
    /// hook dispatcher looks at once.
    public var onEvents: (@Sendable () -> Void)?
    /// Called on the loop thread after each full pass (the metrics textfile is written here).
    public var afterPass: (@Sendable () -> Void)?

    public init(passIntervalMilliseconds: Int = 15_000, pollIntervalMilliseconds: Int = 250, launchTimeoutMilliseconds: Int = 10_000) {
        self.passIntervalMilliseconds = passIntervalMilliseconds
        self.pollIntervalMilliseconds = pollIntervalMilliseconds
        self.launchTimeoutMilliseconds = launchTimeoutMilliseconds
    }
}

/// The supervision service. Its loop runs on a `DedicatedLoop` so that blocking work (tmux
/// calls, /proc reads, SQLite) never stalls the cooperative pool, and so that a stuck loop
/// shows as a stale `lastFullPass` to the watchdog timer instead of stalling the timer too.
///
/// The loop's thread owns every piece of loop state; other threads talk to it only through
/// the inbox and a nudge. What blocks for long (relaunches, stops taken over, teardowns)
/// runs as `ChildWork` of this service: at most `launchLimit` relaunches and takeovers and
/// `teardownLimit` teardowns at once, and `run()` returns only after they have ended.
/// Watching agents, retries and reconcile passes are in the extensions beside this file.
public final class Supervisor: Service, @unchecked Sendable {
    public let context: MCRunContext
    public let configuration: SupervisorConfiguration
    let logger: Logger
    let notifier: any ServiceNotifying
    let ending: Ending
    /// False when the kernel refuses pidfds: agents are then polled.
    public let eventDriven: Bool
    let poller: EventPoller
    let loop: DedicatedLoop
    let work: ChildWork
    /// Relaunches and stops taken over at once.
    static let launchLimit = 16
    /// Teardowns at once, at a lower CPU priority: work that may wait yields to the loop,
    /// whose next death is due in the ledger within milliseconds.
    static let teardownLimit = 4
    static let teardownNiceness: Int32 = 10

    struct Shared {
        var inbox: [Message] = []
        var counts = Counts()
        var passFailure: String?
        /// When passes began to fail (the first failure after a full pass, or since start).
        var passFailingSince: Instant?
        /// Why the ledger refused the deaths waiting to be recorded, as STATUS= says it.
        var recordFailure: String?
        /// Open host incidents as of the last pass, one line each.
        var incidents: [String] = []
        /// Under systemd, since when the pass found no tmux server (serve waits for its unit).
        var tmuxDownSince: Instant?
    }

    enum Message {
        case relaunchDone(retry: PendingRetry, result: RelaunchResult)
        case finishDone(runtimeID: Int64)
        case teardownDone(runtimeID: Int64)
    }

    /// How a relaunch attempt ended, for the loop's bookkeeping.
    enum RelaunchResult {
        case launched(Runtime)
        /// Started, failed (and owed again or escalated by the ending path), cancelled or refused for good.
        case finished
        /// Refused for now (kill switch, capacity): still owed, tried again after the next pass.
        case deferred
    }

    struct Counts: Sendable, Equatable {
        var live = 0
        var busy = 0
        var escalated = 0
        var withoutCgroup = 0
        var cgroupMissing: String?
    }

    let shared = Mutex(Shared())
    /// When the last pass in which both the ledger and tmux answered ended (`Instant`
    /// nanoseconds); 0: none yet.
    private let lastFullPass = Atomic<Int64>(0)
    /// Deaths noticed but not yet written (the ledger refused): the watchdog holds its pings.
    private let unrecordedCount = Atomic<Int>(0)
    /// When the oldest death still unrecorded was noticed (`Instant` nanoseconds); 0: none.
    private let unrecordedSince = Atomic<Int64>(0)
    /// Set once `READY=1` went out, by the loop after its first full pass or by the heartbeat
    /// (degraded) after the start-up bound.
    private let readySent = Atomic<Bool>(false)
    private let startedAtInstant = Instant.now

    // Loop-thread state.
    struct Watch {
        var runtime: Runtime
        var handle: ProcessHandle
    }
    var watched: [Int64: Watch] = [:]
    var polled: Set<Int64> = []
    var retries: [String: PendingRetry] = [:]
    var relaunching: Set<String> = []
    /// Tickets whose retry was refused for now; not tried again before the next pass.
    var deferred: Set<String> = []
    /// Runtimes recorded dead whose live agent is left alone while the kill switch is on (logged once).
    var heldByKillSwitch: Set<Int64> = []
    var finishing: Set<Int64> = []
    /// Teardowns queued or under way, by runtime; those waiting for a slot are in `teardownQueue`.
    var tearingDown: Set<Int64> = []
    var teardownQueue: [(runtime: Runtime, handle: ProcessHandle?)] = []
    /// Runtimes whose agent is known gone but whose end the ledger did not take yet.
    var unrecorded: Set<Int64> = [] {
        didSet {
            unrecordedCount.store(unrecorded.count, ordering: .releasing)
            if unrecorded.isEmpty {
                unrecordedSince.store(0, ordering: .releasing)
                shared.withLock { $0.recordFailure = nil }
            }
        }
    }
    var reportedOrphans: Set<String> = []
    /// The last pass found no tmux server: relaunches wait (under systemd, for its unit).
    var tmuxDown = false
    /// Host incidents already logged as open, by id.
    var loggedIncidents: Set<Int64> = []
    /// Why the operators could not be granted tmux access, as last logged (logged once per cause).
    var operatorAccessFailure: String?
    private var started = false
    private let startedAt = WallClock.now()
    /// When the last heartbeat was written to the ledger; written at most once a second.
    private var lastHeartbeat: Instant?
    var nextPass = Instant(nanoseconds: 0)
    var nextPoll = Instant(nanoseconds: 0)

    public init(context: MCRunContext, configuration: SupervisorConfiguration, notifier: any ServiceNotifying, logger: Logger) throws(MCRunError) {
        self.context = context
        self.configuration = configuration
        self.notifier = notifier
        self.logger = logger
        ending = Ending(context: context)
        eventDriven = !ProcessHandle.pidfdUnavailable
        poller = try EventPoller(nudgePath: context.stateDirectory.serveSocketPath)
        loop = try DedicatedLoop(name: "mcrun-supervisor")
        work = ChildWork(logger: logger)
    }

    // MARK: Service

    /// Supervises until a graceful shutdown; then finishes the relaunches, stops and
    /// teardowns under way (bounded) and returns. Agents are left running.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { [work, configuration] in await work.run(joinBound: .milliseconds(configuration.shutdownWaitMilliseconds)) }
                await loop.run(watching: poller.descriptor) { [self] in step() }
                let left = work.running
                let finishing =
                    left.isEmpty ? "" : "; finishing \(left.count) piece\(left.count == 1 ? "" : "s") of work under way: \(left.joined(separator: ", "))"
                logger.info("supervision loop stopped; agents keep running\(finishing)", metadata: ["event": "serve_stop"])
                work.close()
            }
        } onGracefulShutdown: { [notifier] in
            notifier.stopping(status: "stopping; agents keep running in mcrun's tmux server")
        }
    }

    /// Deaths noticed and not yet recorded: while any, supervision is not keeping up, and
    /// `WATCHDOG=1` must not say it is.
    public var deathsUnrecorded: Int { unrecordedCount.load(ordering: .acquiring) }

    /// Time since the last full pass, nil before the first one.
    public func lastFullPassAge(now: Instant = .now) -> Duration? {
        let last = lastFullPass.load(ordering: .acquiring)
        return last == 0 ? nil : now - Instant(nanoseconds: last)
    }

    /// How long the oldest death still unrecorded has waited; nil when none waits.
    public func unrecordedAge(now: Instant = .now) -> Duration? {
        let since = unrecordedSince.load(ordering: .acquiring)
        return since == 0 || deathsUnrecorded == 0 ? nil : now - Instant(nanoseconds: since)
    }

    /// Whether `READY=1` has been sent.
    public var isReady: Bool { readySent.load(ordering: .acquiring) }

    /// The `STATUS=` line. Healthy: counts as of the last pass, its age, and how deaths are
    /// noticed. What is failing comes first, with how long it has been failing: deaths the
    /// ledger refused ("cannot record 1 death: the ledger is locked for 12 s") and passes
    /// that do not complete ("reconcile failing for 8 s: tmux did not answer ..."), or a
    /// loop stuck in a call that has not failed yet ("loop stuck: no full pass for 8 s").
    public func statusLine(now: Instant = .now) -> String {
        let (counts, failure, failingSince, recordFailure) = shared.withLock { ($0.counts, $0.passFailure, $0.passFailingSince, $0.recordFailure) }
        let mode = eventDriven ? "pidfd" : "polling every \(configuration.pollIntervalMilliseconds) ms (no pidfd)"
        var failing: [String] = []
        let unrecorded = deathsUnrecorded
        if unrecorded > 0 {
            let waited = unrecordedAge(now: now).map { " for \($0.milliseconds / 1000) s" } ?? ""
            failing.append("cannot record \(unrecorded) death\(unrecorded == 1 ? "" : "s"): \(recordFailure ?? "the ledger refused the write")\(waited)")
        }
        if let failure, !(unrecorded > 0 && failure.hasPrefix("cannot record")) {
            failing.append("reconcile failing for \(((now - (failingSince ?? now)).milliseconds) / 1000) s: \(failure)")
        }
        // A loop stuck in a call that has not failed yet (a hung tmux) says so too, once its
        // last pass is older than the heartbeat's freshness window: exactly when pings stop.
        let stale = notifier.watchdogInterval.map { $0 / 2 } ?? .milliseconds(max(2 * configuration.passIntervalMilliseconds, 1_000))
        if failing.isEmpty, let age = lastFullPassAge(now: now), age > stale {
            failing.append("loop stuck: no full pass for \(age.milliseconds / 1000) s")
        }
        let (incidents, tmuxDownSince) = shared.withLock { ($0.incidents, $0.tmuxDownSince) }
        if let tmuxDownSince {
            failing.append("waiting \((now - tmuxDownSince).milliseconds / 1000) s for mcrun-tmux.service (mcrun's tmux server is not running)")
        }
        let prefix = failing.isEmpty ? "" : failing.joined(separator: "; ") + "; "
        let host = incidents.map { "; \($0)" }.joined()
        guard let age = lastFullPassAge(now: now) else {
            let waited = (now - startedAtInstant).milliseconds / 1000
            return prefix + (isReady ? "degraded: no full reconcile pass in \(waited) s" : "starting: first reconcile pass") + "; \(mode)" + host
        }
        let uncontained =
            counts.withoutCgroup > 0
            ? "; \(counts.withoutCgroup) without a cgroup (\(counts.cgroupMissing ?? "none could be made")), leftovers found by searching /proc" : ""
        return prefix
            + "\(counts.live) live, \(counts.busy) busy, \(counts.escalated) escalated; last pass \(age.milliseconds / 1000)s ago; \(mode)\(uncontained)" + host
    }

    /// `READY=1` with a degraded STATUS=, from the heartbeat, when the first pass has not
    /// recorded what it found within the start-up bound: systemd then judges the service
    /// by its watchdog (no pings until a full pass) instead of failing its start.
    func readyDegraded(now: Instant = .now) {
        guard !readySent.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let status = statusLine(now: now)
        notifier.ready(status: status)
        logger.warning("first reconcile pass not complete; ready, degraded: \(status)", metadata: ["event": "ready"])
    }

    /// How long a serve may go without a first complete pass before it sends a degraded READY.
    public static func startupBound(watchdog: Duration?) -> Duration {
        watchdog ?? .seconds(30)
    }

    func post(_ message: Message) {
        shared.withLock { $0.inbox.append(message) }
        loop.nudge()
    }

    // MARK: The loop

    /// One turn of the loop, on its thread: what the kernel and the CLI reported, the pass
    /// when due, work to start. Returns when the next turn is due at the latest.
    private func step() -> Instant? {
        if !started {
            started = true
            begin()
        }
        drainInbox()
        var exited: [Int64] = []
        for token in poller.ready() {
            switch token {
            case .exited(let runtimeID): exited.append(runtimeID)
            case .nudged:
                pickUp()
                // Something changed (a start, the kill switch turned off): relaunches held
                // back by policy get another attempt now, not at the next pass.
                deferred.removeAll()
                configuration.onEvents?()
            }
        }
        // Deaths noticed together are recorded together: one tmux snapshot, one transaction.
        let gone = exited.compactMap { id in watched[id].map { ($0.runtime, AgentIdentity.Liveness.exited) } }
        if !gone.isEmpty { reap(gone) }
        pollWithoutPidfd()
        if nextPass.hasPassed && !loop.isStopping {
            let ok = reconcile()
            // A failed pass is retried soon; the watchdog sees no fresh pass meanwhile.
            nextPass = .after(milliseconds: ok ? configuration.passIntervalMilliseconds : min(1_000, configuration.passIntervalMilliseconds))
        }
        startDueRetries()
        startQueuedTeardowns()

        var next = nextPass
        // A relaunch waiting for its teardown or for a slot is started when that ends: the
        // ending posts a message, which nudges the loop. Its due time would only spin it.
        if launchesInFlight < Self.launchLimit {
            for retry in retries.values
            where !relaunching.contains(retry.ticket) && !deferred.contains(retry.ticket) && !tearingDown.contains(retry.runtimeID) {
                next = min(next, Instant.at(wallTime: retry.dueAt))
            }
        }
        if !polled.isEmpty { next = min(next, nextPoll) }
        return next
    }

    private func begin() {
        if !notifier.isUnderSystemd {
            ensureTmuxServer()
        } else {
            logger.info("under systemd: mcrun's tmux server is mcrun-tmux.service's; serve never starts one itself")
        }
        logger.info(
            "supervising \(context.stateDirectory.path)",
            metadata: ["event": "serve_start", "death_detection": "\(eventDriven ? "pidfd" : "polling")"])
        if !eventDriven {
            logger.warning("this kernel refuses pidfd_open; deaths are noticed by polling every \(configuration.pollIntervalMilliseconds) ms")
        }
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
                // A launch that failed may be owed again by the ending path: take it up now.
                if case .finished = result, let owed = try? context.ledger.pendingRetry(ticket: retry.ticket) {
                    retries[retry.ticket] = owed
                }
            case .finishDone(let runtimeID):
                finishing.remove(runtimeID)
            case .teardownDone(let runtimeID):
                tearingDown.remove(runtimeID)
            }
        }
    }

    /// Without systemd nobody else starts mcrun's tmux server. It daemonises, so it outlives serve.
    func ensureTmuxServer() {
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

    // MARK: Pass bookkeeping

    func passSucceeded(_ view: Ledger.PassView) {
        retries = Dictionary(view.retries.map { ($0.ticket, $0) }, uniquingKeysWith: { a, _ in a })
        // Refused retries get one more attempt per pass.
        deferred.removeAll()
        let counts = Counts(
            live: view.live, busy: view.busy, escalated: view.escalated, withoutCgroup: view.withoutCgroup, cgroupMissing: view.cgroupMissing)
        let now = WallClock.now()
        for incident in view.incidents where loggedIncidents.insert(incident.id).inserted {
            logger.error(
                "\(incident.summary(now: now))", metadata: ["event": "host_incident", "kind": "\(incident.kind.rawValue)", "incident_id": "\(incident.id)"])
        }
        loggedIncidents.formIntersection(view.incidents.map(\.id))
        shared.withLock { state in
            state.counts = counts
            state.passFailure = nil
            state.passFailingSince = nil
            state.incidents = view.incidents.map { $0.summary(now: now) }
        }
        let passEnd = Instant.now
        lastFullPass.store(passEnd.nanoseconds, ordering: .releasing)
        if lastHeartbeat.map({ passEnd - $0 >= .seconds(1) }) ?? true {
            // For operators: `doctor` and `metrics` read when the last pass ended and STATUS.
            do {
                try context.ledger.recordHeartbeat(ServeHeartbeat(pid: getpid(), startedAt: startedAt, lastPassAt: WallClock.now(), status: statusLine()))
                lastHeartbeat = passEnd
            } catch {
                logger.warning("cannot write the heartbeat to the ledger: \(error.message)")
            }
        }
        configuration.afterPass?()
        // READY only once the pass has recorded what it found: no death noticed is left unwritten.
        if unrecorded.isEmpty, !readySent.exchange(true, ordering: .acquiringAndReleasing) {
            notifier.ready(status: statusLine())
            logger.info(
                "first reconcile done; ready",
                metadata: ["event": "ready", "live": "\(counts.live)", "watched": "\(watched.count)"])
        }
    }

    func passFailed(_ why: String) -> Bool {
        let repeated = shared.withLock { state -> Bool in
            defer {
                state.passFailure = why
                if state.passFailingSince == nil { state.passFailingSince = .now }
            }
            return state.passFailure == why
        }
        if !repeated { logger.error("reconcile pass failed: \(why)", metadata: ["event": "reconcile_failed"]) }
        return false
    }

    /// What the ledger said, short enough for STATUS=.
    static func statusCause(_ error: MCRunError) -> String {
        switch error.reason {
        case "ledger_busy": return "the ledger is locked by another process"
        case "ledger_unavailable":
            // "cannot write the ledger: SQLITE'S WORDS; check the file ..."
            let words = error.message.split(separator: ":", maxSplits: 1).last.map { $0.split(separator: ";").first ?? $0 } ?? Substring(error.message)
            return "the ledger refuses writes (\(String(words.drop(while: { $0 == " " }))))"
        default: return error.message
        }
    }

    /// A record the ledger refused: the deaths wait, and STATUS= says why and since when.
    func recordFailed(_ error: MCRunError, noticedAt: Instant) {
        let cause = Self.statusCause(error)
        shared.withLock { $0.recordFailure = cause }
        if unrecordedSince.load(ordering: .acquiring) == 0 { unrecordedSince.store(noticedAt.nanoseconds, ordering: .releasing) }
    }

    static func metadata(_ runtime: Runtime) -> Logger.Metadata {
        ["ticket": "\(runtime.ticket)", "runtime_id": "\(runtime.id ?? 0)", "episode": "\(runtime.episode)"]
    }
}
