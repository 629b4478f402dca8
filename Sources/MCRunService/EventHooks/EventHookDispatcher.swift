import Foundation
import GRDB
import Dispatch
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
            let dir = explicit.flatMap { $0.isEmpty ? nil : StateDirectory.absolute($0) }
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
        "waiting",
    ]

    public let context: MCRunContext
    public let configuration: Configuration
    let logger: Logger
    /// This process, as it appears in `lease_owner`: boot id, pid, start time.
    let owner: String
    private let stopping = Atomic<Bool>(false)
    /// Why the hooks folder cannot be listed, logged once per new reason rather than every poll.
    private let folderProblem = Mutex<String?>(nil)
    private let doorbell = DispatchSemaphore(value: 0)

    public init(context: MCRunContext, configuration: Configuration, logger: Logger) throws(MCRunError) {
        self.context = context
        self.configuration = configuration
        self.logger = logger
        let me = try AgentIdentity.current()
        owner = "\(me.bootID):\(me.pid):\(me.startTime)"
    }

    // MARK: Service

    public func run() async throws {
        // A hook that does not read its stdin must not kill the dispatcher with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        await withGracefulShutdownHandler {
            await onThread {
                while !self.stopping.load(ordering: .relaxed) {
                    _ = self.pass()
                    _ = self.doorbell.wait(timeout: .now() + .milliseconds(self.configuration.pollMilliseconds))
                }
            }
        } onGracefulShutdown: {
            // The running hook finishes or times out; no new one starts.
            self.stopping.store(true, ordering: .relaxed)
            self.doorbell.signal()
        }
    }

    /// New events are in the ledger (a death, a nudge from the CLI): look now, not at the
    /// next poll, so a hook starts within milliseconds of its event.
    public func ring() { doorbell.signal() }

    /// Runs alone in a service group until SIGINT or SIGTERM: `mcrun hooks deliver`.
    public func runUntilSignalled() async throws {
        let group = ServiceGroup(services: [self], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }

    /// Blocking work (hooks, SQLite) off the cooperative pool.
    private func onThread(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                body()
                done.resume()
            }
            thread.start()
        }
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
            while !stopping.load(ordering: .relaxed), let claim = try claimNext() {
                switch deliver(claim) {
                case .delivered: summary.delivered += 1
                case .retry: summary.retried += 1
                case .failed: summary.failed += 1
                }
            }
            // Signals whose sender died between storing and judging them are judged here.
            _ = try context.ledger.write { db in try CompletionSignals.judgePending(db, actor: "event-hooks") }
        } catch {
            logger.error("event hook pass failed: \(error)", metadata: ["error": "\(error)"])
        }
        return summary
    }

    /// Runs passes until no delivery is pending, waiting out backoffs: `mcrun hooks deliver --once`.
    public func drain() -> Summary {
        signal(SIGPIPE, SIG_IGN)
        var total = Summary()
        while !stopping.load(ordering: .relaxed) {
            let s = pass()
            total.enqueued += s.enqueued
            total.delivered += s.delivered
            total.retried += s.retried
            total.failed += s.failed
            guard let next = try? nextWake(), let wake = next else { break }
            let wait = min(max(wake - WallClock.now(), 0.005), Double(configuration.pollMilliseconds) / 1000)
            usleep(useconds_t(wait * 1e6))
        }
        return total
    }

    public func stop() { stopping.store(true, ordering: .relaxed) }

    /// When the next pending delivery may be tried; nil when none is pending.
    func nextWake() throws(MCRunError) -> Double?? {
        try context.ledger.read { db in
            guard try Ledger.pendingHookDeliveryCount(db) > 0 else { return Double??.none }
            return try Ledger.nextHookDeliveryDue(db)
        }
    }

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
            if folderProblem.withLock({ p in defer { p = unreadable.message }; return p != unreadable.message }) {
                logger.error("\(unreadable.message)", metadata: ["reason": "\(unreadable.reason)"])
            }
            return 0
        }
        let (events, created) = try context.ledger.write { db -> ([Event], Int) in
            let events = try Ledger.events(db, after: try Ledger.hookCursor(db), limit: 500)
            guard let last = events.last?.id else { return ([], 0) }
            let now = WallClock.now()
            var created = 0
            for event in events {
                for name in Self.hookNames(for: event.kind, among: hooks) {
                    if try Ledger.enqueueHookDelivery(db, eventID: event.id, hook: name, now: now) { created += 1 }
                }
            }
            try Ledger.moveHookCursor(db, to: last)
            return (events, created)
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
        let level: Logger.Level = ["death", "escalation", "orphan", "hook_failed", "quarantine"].contains(event.kind) ? .warning : .info
        logger.log(level: level, "\(event.kind) \(event.ticket ?? "-")\(event.episode.map { "@\($0)" } ?? "")\(event.reason.map { ": \($0)" } ?? "")", metadata: metadata)
    }

    struct Claim {
        var deliveryID: Int64
        var attemptID: Int64
        var attempt: Int
        var hook: String
        var event: Event
    }

    /// Takes the oldest due delivery: pending, its backoff over, and not leased by a live
    /// dispatcher. A lease held by a dead one (killed mid-delivery) is taken over, its
    /// unfinished attempt recorded as interrupted and its hook's process group killed.
    func claimNext() throws(MCRunError) -> Claim? {
        let owner = self.owner
        let lease = configuration.leaseSeconds
        return try context.ledger.write { db -> Claim? in
            let now = WallClock.now()
            for due in try Ledger.dueHookDeliveries(db, now: now, limit: 50) {
                if let leaseUntil = due.leaseUntil, leaseUntil > now, let leaseOwner = due.leaseOwner, leaseOwner != owner,
                    Self.ownerAlive(leaseOwner)
                {
                    continue
                }
                guard let event = try Event.fetchOne(db, key: due.eventID) else { continue }
                try Self.interruptUnfinished(db, deliveryID: due.id, now: now)
                let attempt = due.attempts + 1
                let attemptID = try Ledger.leaseHookDelivery(db, id: due.id, attempt: attempt, owner: owner, until: now + lease, now: now)
                return Claim(deliveryID: due.id, attemptID: attemptID, attempt: attempt, hook: due.hook, event: event)
            }
            return nil
        }
    }

    static func ownerAlive(_ owner: String) -> Bool {
        let parts = owner.split(separator: ":")
        guard parts.count == 3, let pid = Int32(parts[1]), let start = UInt64(parts[2]) else { return false }
        return AgentIdentity(bootID: String(parts[0]), pid: pid, startTime: start).liveness() == .alive
    }

    /// Attempts a killed dispatcher never finished: recorded as interrupted; a hook still
    /// running from one is killed with its process group before the delivery is retried.
    static func interruptUnfinished(_ db: Database, deliveryID: Int64, now: Double) throws {
        for unfinished in try Ledger.unfinishedHookAttempts(db, deliveryID: deliveryID) {
            if let pid = unfinished.pid, let start = unfinished.pidStartTime, let boot = ProcFS.bootID(),
                AgentIdentity(bootID: boot, pid: pid, startTime: UInt64(start)).liveness() == .alive
            {
                kill(-pid, SIGKILL)
            }
            try Ledger.markHookAttemptInterrupted(db, id: unfinished.id, now: now)
        }
    }

    enum Outcome { case delivered, retry, failed }

    /// Runs the hook once and records the attempt and the delivery's new state together.
    func deliver(_ claim: Claim) -> Outcome {
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
                _ = try? context.ledger.write { db in
                    try Ledger.recordHookAttemptProcess(db, attemptID: claim.attemptID, pid: child.pid, startTime: Int64(stat.startTime))
                }
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

    func record(_ claim: Claim, outcome: String, exitCode: Int32?, exitSignal: Int32?, error: String?) -> Outcome {
        let owner = self.owner
        let configuration = self.configuration
        var result = Outcome.retry
        var metadata: Logger.Metadata = [
            "event_id": "\(claim.event.id ?? 0)", "kind": "\(claim.event.kind)", "hook": "\(claim.hook)",
            "attempt": "\(claim.attempt)", "outcome": "\(outcome)",
        ]
        if let error { metadata["error"] = "\(error)" }
        do {
            result = try context.ledger.write { db -> Outcome in
                let now = WallClock.now()
                try Ledger.finishHookAttempt(
                    db, id: claim.attemptID, now: now, outcome: outcome, exitCode: exitCode, exitSignal: exitSignal, error: error)
                // Another dispatcher took the delivery over (our lease ran out): its word stands.
                let holder = try Ledger.hookLeaseHolder(db, deliveryID: claim.deliveryID)
                guard holder == owner else { return .retry }
                if outcome == "ok" {
                    try Ledger.markHookDelivered(db, deliveryID: claim.deliveryID, now: now)
                    return .delivered
                }
                if claim.attempt >= configuration.maxAttempts {
                    try Ledger.markHookFailed(db, deliveryID: claim.deliveryID, exitCode: exitCode, error: error)
                    try Ledger.appendEvent(
                        db, kind: "hook_failed", ticket: claim.event.ticket, actor: "event-hooks", reason: outcome,
                        data: [
                            "event_id": JSONValue(claim.event.id), "event_kind": .string(claim.event.kind), "hook": .string(claim.hook),
                            "attempts": .int(Int64(claim.attempt)), "error": JSONValue(error),
                        ],
                        now: now)
                    return .failed
                }
                let next = now + Double(configuration.backoff(afterAttempt: claim.attempt)) / 1000
                try Ledger.scheduleHookRetry(db, deliveryID: claim.deliveryID, at: next, exitCode: exitCode, error: error)
                return .retry
            }
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
