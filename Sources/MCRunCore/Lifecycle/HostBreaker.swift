import GRDB

/// The host's thresholds for the breaker (`mcrun config breaker-*`), kept in the ledger
/// like the death policy, because every process that records a death decides with them.
public struct BreakerPolicy: Sendable, Equatable {
    /// Distinct tickets whose agents die fast within the window that open the breaker; 0: off.
    public var tickets = 3
    public var windowSeconds: Double = 120
    /// An agent that dies within this of its start died fast.
    public var fastDeathSeconds: Double = 10
    /// How long the breaker holds every launch before it admits one probe.
    public var cooldownSeconds: Double = 300

    public init() {}

    static func load(_ db: Database) throws -> BreakerPolicy {
        var policy = BreakerPolicy()
        if let raw = try Ledger.setting(db, .breakerTickets), let n = Int(raw), n >= 0 { policy.tickets = n }
        func seconds(_ key: Setting) throws -> Double? {
            guard let raw = try Ledger.setting(db, key), let value = Double(raw), value.isFinite, value > 0 else { return nil }
            return value
        }
        if let v = try seconds(.breakerWindow) { policy.windowSeconds = v }
        if let v = try seconds(.breakerFastDeath) { policy.fastDeathSeconds = v }
        if let v = try seconds(.breakerCooldown) { policy.cooldownSeconds = v }
        return policy
    }
}

/// A breaker for systemic failures. Agents of several tickets dying right after they start
/// is a cause outside each agent (a provider's quota, broken credentials, a wrong
/// directory): relaunching each and escalating each, one by one, would burn every ticket's
/// retry on the same cause. A fast death is an agent that exited on its own with a
/// non-zero code within `fastDeathSeconds` of its start; one killed by a signal, or whose
/// status is not known, is the ticket's own. Instead the death that makes `tickets` distinct tickets with
/// fast deaths in the window opens the breaker, ONE host incident (event `host_incident`,
/// `escalated: true`, which event hooks deliver once). While it is open:
///
/// - `start`, `adopt`-free admissions and owed relaunches are refused with exit 5
///   `breaker_open` and the evidence (tickets, exit statuses, last screen lines); owed
///   relaunches stay owed, held.
/// - The fast deaths that opened it, and fast deaths while it is open, are not charged to
///   their tickets: the counts they added are taken back and a relaunch stays owed (held).
///   A fast death before the breaker opens is counted as usual at first (it may be that
///   agent's own fault); it is taken back when the breaker opens.
/// - After the cool-down the next launch (a start or an owed relaunch) is the probe. A probe
///   that outlives the fast-death time closes the breaker; one that dies fast keeps it open
///   for another cool-down. `mcrun breaker close` closes it at once.
enum HostBreaker {
    /// How a death stands against the breaker.
    enum Blame: Equatable {
        /// Not fast, or the breaker is off: the ticket's own death.
        case agent
        /// A fast death while the breaker is open.
        case whileOpen(HostIncident)
        /// This fast death opens the breaker; `earlier` are the fast deaths that came before it in the window.
        case opens(earlier: [Runtime], tickets: [String])
    }

    static func blame(_ db: Database, death runtime: Runtime, now: Double) throws -> Blame {
        let policy = try BreakerPolicy.load(db)
        // Failing, not killed: the agent exited on its own with an error code. A signal (an
        // operator, the OOM killer) or a status not known says nothing about the host.
        guard policy.tickets > 0, let started = runtime.startedAt, now - started <= policy.fastDeathSeconds, runtime.exitSignal == nil,
            let code = runtime.exitCode, code != 0
        else { return .agent }
        if let open = try Ledger.openIncident(db, kind: .breaker) { return .whileOpen(open) }
        let since = max(now - policy.windowSeconds, try Ledger.lastIncidentClosed(db, kind: .breaker))
        let earlier = try Ledger.fastDeaths(db, since: since, fastSeconds: policy.fastDeathSeconds).filter { $0.id != runtime.id }
        var tickets = [runtime.ticket]
        for r in earlier where !tickets.contains(r.ticket) { tickets.append(r.ticket) }
        guard tickets.count >= policy.tickets else { return .agent }
        return .opens(earlier: earlier, tickets: tickets)
    }

    /// Applies a host blame for `runtime`, already moved to `dead` in this transaction: the
    /// breaker opened (or joined), earlier fast deaths taken back, a held relaunch owed.
    static func charge(_ db: Database, _ blame: Blame, runtime: Runtime, actor: String, now: Double) throws {
        let policy = try BreakerPolicy.load(db)
        let deathPolicy = try DeathPolicy.load(db)
        switch blame {
        case .agent:
            return
        case .whileOpen(var incident):
            if !incident.tickets.contains(runtime.ticket) { incident.tickets.append(runtime.ticket) }
            incident.runtimes += 1
            if incident.probeRuntimeID == runtime.id {
                incident.probeRuntimeID = nil
                incident.nextProbeAt = now + policy.cooldownSeconds
                try Ledger.appendEvent(
                    db, kind: "breaker_probe_failed", runtime: runtime, actor: actor, reason: "probe_died_fast",
                    data: [
                        "incident_id": .int(incident.id), "exit_code": JSONValue(runtime.exitCode), "exit_signal": JSONValue(runtime.exitSignal),
                        "next_probe_at": .double(now + policy.cooldownSeconds),
                    ], now: now)
            }
            try Ledger.updateIncident(db, incident)
        case .opens(let earlier, let tickets):
            let cause =
                "agents of \(tickets.count) tickets died within \(HostIncident.span(policy.fastDeathSeconds)) of starting in \(HostIncident.span(policy.windowSeconds))"
            let incident = try Ledger.insertIncident(
                db, kind: .breaker, cause: cause, tickets: tickets, runtimes: earlier.count + 1, nextProbeAt: now + policy.cooldownSeconds, now: now)
            // A death whose count a reset or a completion has cleared since is the ticket's
            // past: taking it back would take back a later death, and relaunching it would undo the reset.
            for previous in earlier where try !Ledger.standingCleared(db, ticket: previous.ticket, after: previous.endedAt ?? now) {
                try TicketTransition.deathBlamedOnHost(maxSilentRetries: deathPolicy.maxSilentRetries).apply(
                    db, ticket: previous.ticket, actor: actor, now: now)
                try oweHeldRelaunch(db, ticket: previous.ticket, runtime: previous, now: now)
            }
            try Ledger.appendEvent(
                db, kind: "host_incident", ticket: nil, actor: actor, reason: "breaker_open",
                data: [
                    "incident_id": .int(incident.id), "kind": .string(incident.kind.rawValue), "cause": .string(cause), "escalated": true,
                    "tickets": JSONValue(tickets), "evidence": try evidence(db, tickets: tickets),
                    "next_probe_at": .double(now + policy.cooldownSeconds),
                ], now: now)
        }
        try oweHeldRelaunch(db, ticket: runtime.ticket, runtime: runtime, now: now)
    }

    /// A relaunch owed for a death the host is blamed for, held while the breaker is open;
    /// none when the ticket already runs again or is owed one.
    static func oweHeldRelaunch(_ db: Database, ticket: String, runtime: Runtime, now: Double) throws {
        guard try Ledger.liveRuntime(db, ticket: ticket) == nil, try Ledger.pendingRetry(db, ticket: ticket) == nil else {
            if var owed = try Ledger.pendingRetry(db, ticket: ticket), owed.heldReason == nil {
                owed.heldReason = "breaker_open"
                owed.heldSince = now
                try Ledger.oweRetry(db, owed)
            }
            return
        }
        guard let t = try Ledger.ticket(db, id: ticket), !t.parked, !t.escalated else { return }
        var owed = PendingRetry(ticket: ticket, runtimeID: runtime.id!, dueAt: now, createdAt: now)
        owed.heldReason = "breaker_open"
        owed.heldSince = now
        try Ledger.oweRetry(db, owed)
    }

    /// Each ticket's latest fast death: its exit status and last screen lines.
    static func evidence(_ db: Database, tickets: [String]) throws -> JSONValue {
        var items: [JSONValue] = []
        for ticket in tickets {
            guard let r = try Ledger.latestDeath(db, ticket: ticket) else { continue }
            let lines = (r.lastScreen ?? r.transcriptTail ?? "").split(separator: "\n").map(String.init).filter { !$0.isEmpty }.suffix(3)
            items.append([
                "ticket": .string(ticket), "runtime_id": JSONValue(r.id), "exit_code": JSONValue(r.exitCode), "exit_signal": JSONValue(r.exitSignal),
                "lived_seconds": JSONValue(r.startedAt.flatMap { s in r.endedAt.map { $0 - s } }), "last_lines": JSONValue(Array(lines)),
            ])
        }
        return .array(items)
    }

    /// In the admission transaction: refuses a launch while the breaker is open, except the
    /// one probe after the cool-down. A probe that has outlived the fast-death time closes
    /// the breaker first. Returns the open incident when this launch is its probe.
    static func checkAdmission(_ db: Database, action: String, actor: String, now: Double) throws -> HostIncident? {
        guard var open = try Ledger.openIncident(db, kind: .breaker) else { return nil }
        if try settleProbe(db, &open, actor: actor, now: now) { return nil }
        if open.probeRuntimeID == nil, let next = open.nextProbeAt, next <= now { return open }
        throw refusal(db, open, action: action, now: now)
    }

    static func refusal(_ db: Database, _ open: HostIncident, action: String, now: Double) -> MCRunError {
        let evidence = (try? evidence(db, tickets: open.tickets)) ?? .array([])
        let shown = (evidence.arrayValue ?? []).prefix(6).map { item -> String in
            let fields = item.objectValue ?? [:]
            let ticket = fields["ticket"]?.stringValue ?? "?"
            let status =
                fields["exit_signal"]?.intValue.map { "signal \($0)" } ?? fields["exit_code"]?.intValue.map { "exit \($0)" } ?? "exit unknown"
            let last = fields["last_lines"]?.arrayValue?.last?.stringValue.map { ": \(String($0.prefix(80)))" } ?? ""
            return "\(ticket) \(status)\(last)"
        }
        var error = MCRunError(
            .refused, "breaker_open",
            "\(action) refused: the host breaker is open (\(open.cause); \(shown.joined(separator: "; "))); see: mcrun breaker status; close it with: mcrun breaker close"
        )
        error.detail = ["incident": open.json, "evidence": evidence]
        return error
    }

    /// A probe that ran past the fast-death time closes the breaker; one that ended
    /// otherwise (stopped, failed to launch) frees the probe slot. True when closed.
    static func settleProbe(_ db: Database, _ open: inout HostIncident, actor: String, now: Double) throws -> Bool {
        guard let probeID = open.probeRuntimeID, let probe = try Ledger.runtime(db, id: probeID) else { return false }
        let policy = try BreakerPolicy.load(db)
        if probe.state == .running || probe.state == .completed, let started = probe.startedAt,
            now - started > policy.fastDeathSeconds || probe.state == .completed
        {
            try close(db, &open, by: actor, reason: "probe_survived", now: now)
            return true
        }
        // A probe that died after the fast-death time outlived it: the host works again. One
        // that ended sooner without failing fast (a signal, an exit 0, a stop) proved
        // nothing: another probe after the cool-down. (One that failed fast was settled
        // when its death was recorded.)
        if probe.state == .dead, let started = probe.startedAt, (probe.endedAt ?? now) - started > policy.fastDeathSeconds {
            try close(db, &open, by: actor, reason: "probe_survived", now: now)
            return true
        }
        if probe.state.isEnded {
            open.probeRuntimeID = nil
            if probe.state == .dead { open.nextProbeAt = now + policy.cooldownSeconds }
            try Ledger.updateIncident(db, open)
        }
        return false
    }

    static func close(_ db: Database, _ open: inout HostIncident, by actor: String, reason: String, now: Double) throws {
        try Ledger.closeIncident(db, &open, by: actor, reason: reason, now: now)
        // Relaunches held by the breaker may go now.
        try Ledger.releaseHeldRetries(db, reason: "breaker_open")
    }

    /// The probe admitted in this transaction.
    static func markProbe(_ db: Database, _ open: HostIncident, runtime: Runtime, actor: String, now: Double) throws {
        var open = open
        open.probeRuntimeID = runtime.id
        try Ledger.updateIncident(db, open)
        try Ledger.appendEvent(
            db, kind: "breaker_probe", runtime: runtime, actor: actor, reason: "cooldown_over", data: ["incident_id": .int(open.id)], now: now)
    }
}

extension Ledger {
    /// `mcrun breaker close`: closes the open breaker; nil when none was open.
    public func closeBreaker(actor: String, reason: String?) throws(MCRunError) -> HostIncident? {
        try write { db in
            guard var open = try Ledger.openIncident(db, kind: .breaker) else { return nil }
            try HostBreaker.close(db, &open, by: actor, reason: reason ?? "closed_by_operator", now: WallClock.now())
            return open
        }
    }

    /// The open breaker with its evidence, or nil; a probe that survived closes it here.
    public func breakerStatus(actor: String) throws(MCRunError) -> (incident: HostIncident, evidence: JSONValue)? {
        try write { db in
            guard var open = try Ledger.openIncident(db, kind: .breaker) else { return nil }
            if try HostBreaker.settleProbe(db, &open, actor: actor, now: WallClock.now()) { return nil }
            return (open, try HostBreaker.evidence(db, tickets: open.tickets))
        }
    }

    /// For the service's pass: settles the breaker's probe.
    public func settleBreakerProbe(actor: String) throws(MCRunError) -> HostIncident? {
        try write { db in
            guard var open = try Ledger.openIncident(db, kind: .breaker), open.probeRuntimeID != nil else { return nil }
            return try HostBreaker.settleProbe(db, &open, actor: actor, now: WallClock.now()) ? open : nil
        }
    }
}
