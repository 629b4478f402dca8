import GRDB

/// Host-wide settings kept in the ledger, so every process (CLI or service) sees the same.
public enum Setting: String, Sendable, CaseIterable {
    /// When present, no automatic action: no start, adopt, send or retry. Value: the reason.
    case killswitch
    /// Maximum number of live runtimes on this host.
    case capacity
    /// Regex matched against a pane's screen: the last-resort busy signal.
    case busyPattern = "busy_pattern"
    /// Seconds of pane output that count as busy, for agents without activity hooks.
    case busyWindow = "busy_window"
    /// The tmux key `send --interrupt` presses to end the agent's turn.
    case interruptKey = "interrupt_key"
    /// A live runtime silent (no pane output) longer than this many seconds is `silent`.
    case harvestTimeout = "harvest_timeout"
    /// Unexpected deaths of a ticket relaunched silently before it escalates.
    case maxSilentRetries = "max_silent_retries"
    /// Seconds before a silent relaunch.
    case retryDelay = "retry_delay"
    /// Tickets whose agents die fast within the window that open the host breaker; 0: off.
    case breakerTickets = "breaker_tickets"
    /// Seconds over which fast deaths are counted for the breaker.
    case breakerWindow = "breaker_window"
    /// An agent that dies within this many seconds of starting died fast.
    case breakerFastDeath = "breaker_fast_death"
    /// Seconds the breaker stays open before it admits one probe launch.
    case breakerCooldown = "breaker_cooldown"
    /// Where runtime cgroups are created: a cgroup2 directory, or `off`; unset is automatic.
    case cgroupRoot = "cgroup_root"
    /// Host defaults of a runtime's limits (`start` flags override them).
    case memoryMax = "memory_max"
    case cpuWeight = "cpu_weight"
    case pidsMax = "pids_max"
}

/// Refusals by policy (exit 5): told apart from a conflict with a live runtime (exit 4).
public enum Policy {
    static func checkKillSwitch(_ db: Database, action: String) throws {
        let state = try Ledger.killSwitch(db)
        if state.on, let reason = state.reason {
            throw MCRunError(.refused, "killswitch", "\(action) refused: the kill switch is on (\(reason)); turn it off with: mcrun killswitch off")
        }
    }

    /// A park carried out while the ledger could not record it holds the ticket as the
    /// parked flag would; a stop held that way cancels the relaunch owed.
    static func checkNotHeld(_ db: Database, ticket: String, action: String) throws {
        guard let reserve = Ledger.reserve(db) else { return }
        for intent in reserve.pending() where intent.ticket == ticket && (intent.kind == .park || (intent.kind == .stop && action == "retry")) {
            throw MCRunError(
                .refused, intent.kind == .park ? "ticket_parked" : "retry_cancelled",
                "\(action) refused: ticket \(ticket) was \(intent.kind == .park ? "parked" : "stopped") (\(intent.reason)) while the ledger could not record it; it is recorded as soon as the ledger can be written"
            )
        }
    }

    public static func checkNotParked(_ ticket: Ticket, action: String) throws {
        if ticket.parked {
            throw MCRunError(
                .refused, "ticket_parked",
                "\(action) refused: ticket \(ticket.id) is parked\(ticket.parkedReason.map { " (\($0))" } ?? ""); unpark it with: mcrun unpark \(ticket.id)")
        }
    }

    /// An escalated ticket is held until `mcrun reset` (or `--force`, recorded as such): a
    /// second death meant a person must look before it runs again.
    public static func checkNotEscalated(_ ticket: Ticket, action: String, force: Bool) throws {
        if ticket.escalated && !force {
            throw MCRunError(
                .refused, "escalated",
                "\(action) refused: ticket \(ticket.id) is escalated\(ticket.escalatedReason.map { " (\($0))" } ?? ""); look at it (mcrun harvest \(ticket.id)), then clear it with: mcrun reset \(ticket.id), or pass --force"
            )
        }
    }

    /// Counts live runtimes inside the admitting transaction, so two starts cannot both
    /// take the last slot.
    static func checkCapacity(_ db: Database) throws {
        guard let raw = try Ledger.setting(db, .capacity) else { return }
        guard let limit = Int(raw) else {
            throw MCRunError(
                .refused, "capacity_unknown",
                "start refused: the configured capacity \(raw.debugDescription) is not a number; fix it with: mcrun config capacity N")
        }
        let live = try Ledger.liveCount(db)
        if live >= limit {
            throw MCRunError(.refused, "capacity", "start refused: \(live) of \(limit) runtimes are live on this host; stop one or raise the capacity")
        }
    }
}
