import Foundation
import Glibc
public import Logging
public import MCRunCore
public import ServiceLifecycle
import Synchronization
import UnixSignals

/// Runs event hooks: executables in a folder, one per event kind (or `any`), each given the
/// event as JSON on stdin, argv only. The outbox is in the ledger (`hook_deliveries`): a
/// delivery is pending until its hook exited 0, claims are leases in the ledger, so a
/// dispatcher killed mid-delivery leaves work the next one redelivers, never loses.
public final class EventHookDispatcher: Service, Sendable {
    public struct Configuration: Sendable {
        public var directory: String
        /// A hook still running after this is killed (its whole process group) and retried.
        public var timeoutMilliseconds = 30_000
        /// Attempts before a delivery is given up as failed.
        public var maxAttempts = 6
        /// Backoff after the n-th failure: base × 2^(n-1), capped.
        public var backoffMilliseconds = 1_000
        public var maxBackoffMilliseconds = 300_000
        /// How often new events are looked for.
        public var pollMilliseconds = 200

        public init(directory: String) { self.directory = directory }

        /// `--hooks-dir`, else `MCRUN_EVENT_HOOKS_DIR`, else `STATE_DIR/event-hooks.d`; limits
        /// from `MCRUN_HOOK_TIMEOUT`, `MCRUN_HOOK_MAX_ATTEMPTS`, `MCRUN_HOOK_BACKOFF` (ms).
        public static func resolve(explicit: String?, stateDirectory: StateDirectory, environment: [String: String]) -> Configuration {
            let dir =
                explicit.flatMap { $0.isEmpty ? nil : StateDirectory.absolute($0) }
                ?? environment["MCRUN_EVENT_HOOKS_DIR"].flatMap { $0.isEmpty ? nil : $0 }
                ?? stateDirectory.path + "/event-hooks.d"
            var c = Configuration(directory: dir)
            if let v = environment["MCRUN_HOOK_TIMEOUT"].flatMap(Int.init), v > 0 { c.timeoutMilliseconds = v }
            if let v = environment["MCRUN_HOOK_MAX_ATTEMPTS"].flatMap(Int.init), v > 0 { c.maxAttempts = v }
            if let v = environment["MCRUN_HOOK_BACKOFF"].flatMap(Int.init), v >= 0 { c.backoffMilliseconds = v }
            return c
        }

        func backoff(afterAttempt n: Int) -> Int {
            let shift = min(max(n - 1, 0), 30)
            return min(backoffMilliseconds.multipliedReportingOverflow(by: 1 << shift).partialValue, maxBackoffMilliseconds)
        }

        /// A lease outlives the hook's timeout, so only a dead dispatcher's claim expires.
        var leaseSeconds: Double { Double(timeoutMilliseconds + 5_000) / 1000 }
    }

    /// The kinds an `any` hook receives: the ones someone must hear of, a relaunch refused by
    /// policy or dropped by a stop or park among them.
    public static let notableKinds: Set<String> = [
        "death", "retry", "retry_refused", "retry_cancelled", "escalation", "park", "stop", "completion", "quarantine", "orphan",
        "waiting", "host_incident", "host_incident_closed",
    ]

    public let context: MCRunContext
    public let configuration: Configuration
    let logger: Logger
    /// This process, as it appears in `lease_owner`: boot id, pid, start time.
    let owner: String
    let loop: DedicatedLoop
    /// Why the hooks folder cannot be listed, logged once per new reason rather than every poll.
    private let folderProblem = Mutex<String?>(nil)

    public init(context: MCRunContext, configuration: Configuration, logger: Logger) throws(MCRunError) {
        self.context = context
        self.configuration = configuration
        self.logger = logger
        let me = try AgentIdentity.current()
        owner = "\(me.bootID):\(me.pid):\(me.startTime)"
        loop = try DedicatedLoop(name: "mcrun-event-hooks")
    }

    // MARK: Service

    public func run() async throws {
        // A hook that does not read its stdin must not kill the dispatcher with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        // On a graceful shutdown the running hook finishes or times out; no new one starts.
        await loop.run { [self] in
            pass()
            return .after(milliseconds: configuration.pollMilliseconds)
        }
    }

    /// New events are in the ledger (a death, a nudge from the CLI): look now, not at the
    /// next poll, so a hook starts within milliseconds of its event.
    public func ring() { loop.nudge() }

    /// Runs alone in a service group until SIGINT or SIGTERM: `mcrun hooks deliver`.
    public func runUntilSignalled() async throws {
        let group = ServiceGroup(services: [self], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }

    // MARK: Passes

    public struct Summary: Sendable, Equatable {
        public var enqueued = 0
        public var delivered = 0
        public var retried = 0
        public var failed = 0
    }

    /// One pass: turns new events into deliveries, then runs every delivery that is due.
    @discardableResult
    public func pass() -> Summary {
        var summary = Summary()
        do {
            summary.enqueued = try enqueue()
            while !loop.isStopping, let claim = try claimNext() {
                switch deliver(claim) {
                case .delivered: summary.delivered += 1
                case .retry: summary.retried += 1
                case .failed: summary.failed += 1
                }
            }
            // Signals whose sender died between storing and judging them are judged here.
            try context.ledger.judgeStrandedSignals(actor: "event-hooks")
        } catch {
            logger.error("event hook pass failed: \(error)", metadata: ["error": "\(error)"])
        }
        return summary
    }

    /// Runs passes on the dispatcher's loop until no delivery is pending, waking when the
    /// next backoff ends: `mcrun hooks deliver --once`.
    public func drain() async -> Summary {
        signal(SIGPIPE, SIG_IGN)
        let total = Mutex(Summary())
        await loop.run { [self] in
            let s = pass()
            total.withLock { t in
                t.enqueued += s.enqueued
                t.delivered += s.delivered
                t.retried += s.retried
                t.failed += s.failed
            }
            guard let due = try? context.ledger.nextHookDeliveryDue() else {
                loop.stop()
                return nil
            }
            // Never sooner than 5 ms: a delivery due but not claimable (its event gone) must not spin the loop.
            return min(max(Instant.at(wallTime: due), .after(milliseconds: 5)), .after(milliseconds: configuration.pollMilliseconds))
        }
        return total.withLock { $0 }
    }

    /// Any thread: the loop (or `drain`) ends after the delivery under way.
    public func stop() { loop.stop() }

    // MARK: Outbox

    /// The hooks present now, by name. A missing folder holds none; one that exists but cannot
    /// be listed throws, so its events wait instead of passing by unheard.
    func hooks() throws(MCRunError) -> [String: String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: configuration.directory)
        } catch {
            var st = stat()
            if stat(configuration.directory, &st) != 0 && errno == ENOENT { return [:] }
            throw MCRunError(
                .internalError, "hooks_dir_unreadable",
                "cannot list the event hooks folder \(configuration.directory) (\(error.localizedDescription)); its events wait until it can be read")
        }
        var found: [String: String] = [:]
        for name in names where !name.hasPrefix(".") && !name.hasSuffix("~") && !name.contains(".") {
            let path = configuration.directory + "/" + name
            var st = stat()
            guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG, access(path, X_OK) == 0 else { continue }
            found[name] = path
        }
        return found
    }

    static func hookNames(for kind: String, among hooks: [String: String]) -> [String] {
        // A hook's own failures are events too; hooks never receive them, or a failing hook would feed itself.
        guard !kind.hasPrefix("hook_") else { return [] }
        var names: [String] = []
        if hooks[kind] != nil { names.append(kind) }
        if hooks["any"] != nil && kind != "any" && notableKinds.contains(kind) { names.append("any") }
        return names
    }

    /// Reads events past the cursor and records a delivery per matching hook, in one
    /// transaction with the cursor's move: each event is taken up exactly once.
    func enqueue() throws(MCRunError) -> Int {
        let hooks: [String: String]
        do {
            hooks = try self.hooks()
            if folderProblem.withLock({ $0.take() }) != nil { logger.info("the event hooks folder can be listed again") }
        } catch let unreadable {
            // The cursor stays put: these events are taken up once the folder can be read.
            if folderProblem.withLock({ p in
                defer { p = unreadable.message }
                return p != unreadable.message
            }) {
                logger.error("\(unreadable.message)", metadata: ["reason": "\(unreadable.reason)"])
            }
            return 0
        }
        let (events, created) = try context.ledger.takeUpEventsForHooks(limit: 500, now: WallClock.now()) { kind in
            Self.hookNames(for: kind, among: hooks)
        }
        // The journal gets each event once: from the one dispatcher that moved the cursor past it.
        for event in events { log(event) }
        return created
    }

    func log(_ event: Event) {
        var metadata: Logger.Metadata = ["event_id": "\(event.id ?? 0)", "kind": "\(event.kind)", "actor": "\(event.actor)"]
        if let t = event.ticket { metadata["ticket"] = "\(t)" }
        if let r = event.runtimeID { metadata["runtime_id"] = "\(r)" }
        if let e = event.episode { metadata["episode"] = "\(e)" }
        if let f = event.fromState { metadata["from"] = "\(f)" }
        if let t = event.toState { metadata["to"] = "\(t)" }
        if let r = event.reason { metadata["reason"] = "\(r)" }
        let level: Logger.Level = ["death", "escalation", "orphan", "hook_failed", "quarantine", "host_incident"].contains(event.kind) ? .warning : .info
        logger.log(
            level: level, "\(event.kind) \(event.ticket ?? "-")\(event.episode.map { "@\($0)" } ?? "")\(event.reason.map { ": \($0)" } ?? "")",
            metadata: metadata)
    }

    /// Takes the oldest due delivery: pending, its backoff over, and not leased by a live
    /// dispatcher. A lease held by a dead one (killed mid-delivery) is taken over, its
    /// unfinished attempt recorded as interrupted and its hook's process group killed.
    func claimNext() throws(MCRunError) -> Ledger.HookClaim? {
        try context.ledger.claimHookDelivery(
            owner: owner, leaseSeconds: configuration.leaseSeconds, now: WallClock.now(), ownerAlive: Self.ownerAlive,
            interrupt: Self.killLeftover)
    }

    static func ownerAlive(_ owner: String) -> Bool {
        let parts = owner.split(separator: ":")
        guard parts.count == 3, let pid = Int32(parts[1]), let start = UInt64(parts[2]) else { return false }
        return AgentIdentity(bootID: String(parts[0]), pid: pid, startTime: start).liveness() == .alive
    }

    /// A hook still running from an attempt a killed dispatcher never finished is killed with
    /// its process group before the delivery is retried.
    static func killLeftover(_ unfinished: Ledger.UnfinishedHookAttempt) {
        guard let pid = unfinished.pid, let start = unfinished.pidStartTime, let boot = ProcFS.bootID(),
            AgentIdentity(bootID: boot, pid: pid, startTime: UInt64(start)).liveness() == .alive
        else { return }
        kill(-pid, SIGKILL)
    }

    typealias Outcome = Ledger.HookDeliveryVerdict

    /// Runs the hook once and records the attempt and the delivery's new state together.
    func deliver(_ claim: Ledger.HookClaim) -> Outcome {
        let path = configuration.directory + "/" + claim.hook
        let input = Array((claim.event.json.jsonText + "\n").utf8)
        var env = context.environment
        for key in ["MCRUN_TICKET", "MCRUN_EPISODE", "MCRUN_NONCE", "MCRUN_RUNTIME_ID", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            env[key] = nil
        }
        env["MCRUN_STATE_DIR"] = context.stateDirectory.path
        env["MCRUN_EVENT_ID"] = String(claim.event.id ?? 0)
        env["MCRUN_EVENT_KIND"] = claim.event.kind
        env["MCRUN_HOOK_ATTEMPT"] = String(claim.attempt)

        var outcome = "ok"
        var exitCode: Int32?
        var exitSignal: Int32?
        var error: String?
        do {
            // Its own session: a hung hook is killed with everything it started.
            let child = try Subprocess.spawn(
                [path], environment: env.map { "\($0.key)=\($0.value)" }, workingDirectory: configuration.directory, newSession: true)
            if let stat = ProcFS.stat(child.pid) {
                try? context.ledger.recordHookAttemptProcess(attemptID: claim.attemptID, pid: child.pid, startTime: Int64(stat.startTime))
            }
            // Bounded even when the hook closes its output and lives on: at the timeout collect
            // kills its process group (before reaping, while the group id is still its own).
            let result = child.collect(stdin: input, timeoutMilliseconds: configuration.timeoutMilliseconds)
            if result.timedOut {
                outcome = "timeout"
                error = "killed after \(configuration.timeoutMilliseconds) ms"
            } else if let s = result.signal {
                outcome = "signal"
                exitSignal = s
                error = "killed by signal \(s)"
            } else if result.status != 0 {
                outcome = "exit"
                exitCode = result.status
                let stderr = result.stderrText
                error = "exited \(result.status)" + (stderr.isEmpty ? "" : ": " + String(stderr.suffix(500)))
            } else {
                exitCode = 0
            }
        } catch let spawn {
            outcome = "spawn_error"
            error = "\(spawn)"
        }
        return record(claim, outcome: outcome, exitCode: exitCode, exitSignal: exitSignal, error: error)
    }

    func record(_ claim: Ledger.HookClaim, outcome: String, exitCode: Int32?, exitSignal: Int32?, error: String?) -> Outcome {
        var metadata: Logger.Metadata = [
            "event_id": "\(claim.event.id ?? 0)", "kind": "\(claim.event.kind)", "hook": "\(claim.hook)",
            "attempt": "\(claim.attempt)", "outcome": "\(outcome)",
        ]
        if let error { metadata["error"] = "\(error)" }
        let result: Outcome
        do {
            let now = WallClock.now()
            result = try context.ledger.concludeHookAttempt(
                claim, Ledger.HookAttemptEnd(outcome: outcome, exitCode: exitCode, exitSignal: exitSignal, error: error), owner: owner,
                giveUp: claim.attempt >= configuration.maxAttempts,
                retryAt: now + Double(configuration.backoff(afterAttempt: claim.attempt)) / 1000, actor: "event-hooks", now: now)
        } catch let failure {
            // The lease stays; it is retried once it expires. Never marked delivered on doubt.
            logger.error("cannot record hook attempt: \(failure)", metadata: metadata)
            return .retry
        }
        switch result {
        case .delivered: logger.info("hook \(claim.hook) delivered event \(claim.event.id ?? 0)", metadata: metadata)
        case .retry: logger.warning("hook \(claim.hook) failed for event \(claim.event.id ?? 0); will retry", metadata: metadata)
        case .failed: logger.error("hook \(claim.hook) gave up on event \(claim.event.id ?? 0) after \(claim.attempt) attempts", metadata: metadata)
        }
        return result
    }
}
