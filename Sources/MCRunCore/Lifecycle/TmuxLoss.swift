import GRDB
import Glibc

/// mcrun's tmux server lost with agents in it (crashed, `tmux kill-server`): every agent in
/// it dies at once, but none of them failed. Those runtimes end `dead` with reason
/// `tmux_server_lost` (event `host_lost`), no ticket's count moves, nothing escalates, and
/// ONE host incident (`tmux_lost`) is opened for all of them. Each is owed one relaunch,
/// held until the server is back (`held_reason` `tmux_down`); the service closes the
/// incident when the server answers again and then relaunches them.
enum TmuxLoss {
    static let reason = "tmux_server_lost"

    /// In the end's transaction, after the runtime moved to `dead`: the incident opened or
    /// joined, the relaunch owed.
    static func record(_ db: Database, runtime: Runtime, actor: String, now: Double) throws -> HostIncident {
        var incident: HostIncident
        if var open = try Ledger.openIncident(db, kind: .tmuxLost) {
            if !open.tickets.contains(runtime.ticket) { open.tickets.append(runtime.ticket) }
            open.runtimes += 1
            try Ledger.updateIncident(db, open)
            incident = open
        } else {
            incident = try Ledger.insertIncident(
                db, kind: .tmuxLost, cause: "mcrun's tmux server went away with its sessions", tickets: [runtime.ticket], runtimes: 1, nextProbeAt: nil,
                now: now)
            try Ledger.appendEvent(
                db, kind: "host_incident", actor: actor, reason: reason,
                data: ["incident_id": .int(incident.id), "kind": .string(incident.kind.rawValue), "cause": .string(incident.cause), "escalated": false],
                now: now)
        }
        if let ticket = try Ledger.ticket(db, id: runtime.ticket), !ticket.parked, !ticket.escalated,
            try Ledger.pendingRetry(db, ticket: runtime.ticket) == nil
        {
            var owed = PendingRetry(ticket: runtime.ticket, runtimeID: runtime.id!, dueAt: now, createdAt: now)
            owed.heldReason = "tmux_down"
            owed.heldSince = now
            owed.hostIncidentID = incident.id
            try Ledger.oweRetry(db, owed)
        }
        return incident
    }
}

extension Ledger {
    /// The tmux server answers again: the open `tmux_lost` incident is closed, and every
    /// relaunch held for the server is released (held with the incident, or refused
    /// `tmux_down` while the unit was down with no agent lost). Returns the incident closed,
    /// nil when none was open.
    public func tmuxServerBack(actor: String) throws(MCRunError) -> HostIncident? {
        // Every reconcile pass asks: a read, and a write only when something is held.
        guard try read({ db in try Ledger.openIncident(db, kind: .tmuxLost) != nil || Ledger.hasHeldRetries(db, reason: "tmux_down") }) else {
            return nil
        }
        return try write { db in
            try Ledger.releaseHeldRetries(db, reason: "tmux_down")
            guard var open = try Ledger.openIncident(db, kind: .tmuxLost) else { return nil }
            try Ledger.closeIncident(
                db, &open, by: actor, reason: "tmux_server_back", data: ["runtimes": .int(Int64(open.runtimes))], now: WallClock.now())
            return open
        }
    }
}

extension MCRunContext {
    /// Whether these runtimes' agents went away with the tmux server rather than each on
    /// its own. A dead agent's pane stays (remain-on-exit), so when every pane is there the
    /// server is up and these are ordinary deaths. A missing
    /// session is one closed on its own, or its server is gone: no server running, one
    /// started after the agent (serve outside systemd starts it again at once) or in a later
    /// boot, or one on its way out, asked again for up to a second.
    func tmuxServerLost(with runtimes: [Runtime]) -> Bool {
        guard !runtimes.isEmpty else { return false }
        // A hung server must not hold the record of a death for tmux's usual 10 s.
        var tmux = self.tmux
        tmux.timeoutMilliseconds = 2_000
        // One death or two (the usual case): their own panes, a call each, whatever the
        // number of runtimes on the server; a burst takes one snapshot of every pane.
        if runtimes.count <= 2,
            runtimes.allSatisfy({ r in r.paneID.flatMap { try? tmux.pane($0) }?.sessionName == r.sessionName })
        {
            return false
        }
        guard let first = try? tmux.snapshot() else { return false }
        if !first.serverRunning { return true }
        let missing = runtimes.filter { first.pane(of: $0) == nil }
        if missing.isEmpty { return false }
        // An agent of an earlier boot went with that boot's server.
        let boot = ProcFS.bootID()
        if missing.contains(where: { $0.identity.map { $0.bootID != boot } ?? false }) { return true }
        if let serverStart = tmux.serverStartTime(), missing.contains(where: { $0.identity.map { serverStart > $0.startTime } ?? false }) {
            return true
        }
        let deadline = Instant.after(milliseconds: 1_000)
        while !deadline.hasPassed {
            usleep(20_000)
            guard let again = try? tmux.snapshot() else { continue }
            if !again.serverRunning { return true }
        }
        return false
    }
}

/// Relaunches that do not start for a cause outside the agent (`Ending.infrastructureLaunchFailures`):
/// one `launch_failed` host incident for all of them, closed by the next launch that starts.
enum HostLaunchFailures {
    static func record(_ db: Database, runtime: Runtime, reason: String, actor: String, now: Double) throws -> HostIncident {
        if var open = try Ledger.openIncident(db, kind: .launchFailed) {
            if !open.tickets.contains(runtime.ticket) { open.tickets.append(runtime.ticket) }
            open.runtimes += 1
            open.cause = "last: \(reason)"
            try Ledger.updateIncident(db, open)
            return open
        }
        let incident = try Ledger.insertIncident(
            db, kind: .launchFailed, cause: "last: \(reason)", tickets: [runtime.ticket], runtimes: 1, nextProbeAt: nil, now: now)
        try Ledger.appendEvent(
            db, kind: "host_incident", runtime: runtime, actor: actor, reason: reason,
            data: ["incident_id": .int(incident.id), "kind": .string(incident.kind.rawValue), "cause": .string(incident.cause), "escalated": false],
            now: now)
        return incident
    }
}

extension Ledger {
    /// A launch started: an open `launch_failed` incident is over. Returns it when closed.
    public func launchesWorkAgain(actor: String) throws(MCRunError) -> HostIncident? {
        guard try read({ db in try Ledger.openIncident(db, kind: .launchFailed) }) != nil else { return nil }
        return try write { db in
            guard var open = try Ledger.openIncident(db, kind: .launchFailed) else { return nil }
            try Ledger.closeIncident(db, &open, by: actor, reason: "launch_started", now: WallClock.now())
            return open
        }
    }
}
