import Glibc

/// A reconcile pass found sessions whose runtime has ended: a live agent of a runtime
/// recorded dead is re-adopted (the death was not one); anything else in an ended
/// runtime's session is removed.
public enum Healing: Sendable, Equatable {
    case healed(Runtime)
    /// The kill switch is on: neither re-adopted nor killed; the operator decides.
    case leftAlone
    /// The ticket may not run it (parked, another live runtime): it is removed.
    case refused
}

extension Ending {
    /// Re-adopts a live agent whose runtime was recorded dead, if the ticket may run it. The
    /// death is taken back, with the escalation it caused and the end record.
    public func heal(_ runtime: Runtime, pane: TmuxServer.Pane) throws(MCRunError) -> Healing {
        let actor = context.actor
        let id = runtime.id!
        return try context.ledger.write { db -> Healing in
            if try Ledger.killSwitch(db).on { return .leftAlone }
            guard let ticket = try Ledger.ticket(db, id: runtime.ticket), !ticket.parked,
                try Ledger.liveRuntime(db, ticket: runtime.ticket) == nil
            else { return .refused }
            let now = WallClock.now()
            let policy = try DeathPolicy.load(db)
            let taken = try TicketTransition.deathTakenBack(maxSilentRetries: policy.maxSilentRetries)
                .apply(db, ticket: ticket.id, actor: actor, now: now)
            let healed = try Transition.healed.apply(
                db, runtimeID: id, actor: actor, reason: "agent_alive",
                data: [
                    "pid": .int(Int64(pane.panePID)), "session": .string(pane.sessionName),
                    "death_taken_back": .bool(taken.applied), "escalation_cleared": .bool(taken.wasEscalated),
                ], now: now
            ) { r in
                r.endedAt = nil
                r.endReason = nil
                r.endedBy = nil
                r.exitCode = nil
                r.exitSignal = nil
                r.terminalRecord = nil
                r.teardownOwed = false
                r.sessionID = pane.sessionID
                r.paneID = pane.paneID
            }
            return .healed(healed)
        }
    }

    /// An ended runtime's session is still there (its teardown was finished, yet something
    /// runs in it): kill the agent if it is alive, clear away, and record what was found.
    public func removeLeftoverSession(_ runtime: Runtime, pane: TmuxServer.Pane, agentAlive: Bool) -> TeardownReport {
        if runtime.teardownOwed {
            let after = tearDown(runtime)
            if !after.teardownOwed { return TeardownReport(leftoversKilled: after.leftoversKilled ?? 0) }
        }
        var killed = false
        if agentAlive, let identity = runtime.identity, let handle = ProcessHandle.open(identity) {
            killed = handle.signal(SIGKILL)
            _ = handle.waitForExit(timeoutMilliseconds: 2_000)
        }
        let report = context.clearAway(runtime)
        let actor = context.actor
        let data = report.data.merging(["session": .string(pane.sessionName), "agent_killed": .bool(killed)])
        _ = try? context.ledger.write { db in
            try Ledger.appendEvent(
                db, kind: "leftover_session", runtime: runtime, actor: actor,
                reason: agentAlive ? "agent_alive_after_end" : "session_left_behind", data: data)
        }
        return report
    }
}
