import GRDB
import Glibc

/// Stop, park and the kill switch when the ledger cannot be written (a full disk, an
/// immutable file, a lock held past the busy timeout): the agent is stopped all the same,
/// what was done is kept in the state directory's reserve (`IntentReserve`) before the
/// agent is signalled, and the command exits 8 (`unrecorded`) saying what the ledger lacks.
/// The ledger learns it later from whoever writes next: the end is recorded as that stop
/// or park through the ending path, never as a death, and the ticket is held meanwhile.
extension MCRunError {
    /// The ledger refused a write for a cause outside mcrun's logic: locked past the busy
    /// timeout, a full disk, a read-only or unreadable file.
    public var ledgerUnwritable: Bool {
        reason == "ledger_busy" || reason == "ledger_unavailable"
    }
}

extension Stopper {
    /// How the agent was made to exit.
    struct Termination {
        var signalled = false
        var forced = false

        var outcome: String { forced ? "killed" : signalled ? "signalled" : "gone" }

        func describe(grace: Int) -> String {
            forced ? "killed with SIGKILL after \(grace) ms" : signalled ? "exited on its signal" : "was already gone"
        }
    }

    /// The interrupt key or signal, the grace period, then SIGKILL; waits for the exit.
    static func terminate(_ handle: ProcessHandle, runtime: Runtime, options: Options, tmux: TmuxServer) -> Termination {
        var t = Termination()
        if let key = options.interruptKey, let pane = runtime.paneID {
            try? tmux.sendKey(key, to: pane)
            if handle.waitForExit(timeoutMilliseconds: options.graceMilliseconds / 2) == false {
                t.signalled = handle.signal(options.signal)
            }
        } else {
            t.signalled = handle.signal(options.signal)
        }
        if !handle.waitForExit(timeoutMilliseconds: options.graceMilliseconds) {
            t.forced = handle.signal(SIGKILL)
            _ = handle.waitForExit(timeoutMilliseconds: 5_000)
        }
        return t
    }

    /// A stop (or, with `park`, a park) whose request the ledger refused: the live runtime
    /// is read (reads work on a full or read-only disk and beside a writer), the intent is
    /// kept in the reserve, then the agent and its leftovers are ended. Always throws: exit 8
    /// when something was done, the ledger's own error when nothing could be.
    func stopUnrecorded(ticket: String, park: Bool, reason: String, options: Options, cause: MCRunError) throws(MCRunError) -> Never {
        let what = park ? "park" : "stop"
        let live: Runtime?
        do {
            live = try context.ledger.read { db in try Ledger.liveRuntime(db, ticket: ticket) }
        } catch {
            throw cause
        }
        // An agent that died on its own is a death: serve records it, and a park holds the ticket.
        let running = live.flatMap { r in r.identity.map { (r, $0) } }.flatMap { r, identity in
            [.alive, .unknown].contains(identity.liveness()) ? r : nil
        }
        guard running != nil || park else { throw cause }
        let reserve = IntentReserve(directory: context.stateDirectory)
        var kept: IntentReserve.Intent?
        var keepFailure: String?
        do {
            kept = try reserve.record(
                IntentReserve.Intent(
                    kind: park ? .park : .stop, ticket: ticket, runtimeID: running?.id, reason: reason, actor: context.actor, at: WallClock.now()))
        } catch {
            keepFailure = "\(error)"
        }
        var done = park ? "parked \(ticket)" : "stopped \(ticket)"
        if let running {
            guard let handle = running.identity.flatMap(ProcessHandle.open) else {
                if let kept { reserve.clear(kept) }
                throw MCRunError(
                    .internalError, "cannot_signal",
                    "cannot get a handle on the agent of \(ticket) (pid \(running.pid.map { "\($0)" } ?? "?")), and \(cause.message); nothing was stopped: retry",
                    runtime: running)
            }
            let t = Self.terminate(handle, runtime: running, options: options, tmux: context.tmux)
            let leftovers = Leftovers.kill(of: running)
            if var kept {
                kept.outcome = t.outcome
                reserve.update(kept)
            }
            done +=
                "\(park ? ": stopped" : "") episode \(running.episode) (agent \(t.describe(grace: options.graceMilliseconds)); leftovers killed: \(leftovers))"
        } else {
            done += " (nothing was running)"
        }
        let keptLine =
            keepFailure.map { "; the reserve could not keep it either (\($0)): the ledger will record this end as a death" }
            ?? "; the \(what) is kept in \(reserve.path) and recorded as a \(what) when the ledger can be written (serve or the next command that writes)"
            + (park ? "; meanwhile start and adopt refuse the ticket" : "")
        throw MCRunError(
            .unrecorded, "\(what)_unrecorded", "\(done), but the ledger could not record it (\(cause.message))\(keptLine)", runtime: running ?? live)
    }
}

extension KillSwitch {
    /// `killswitch on` when the ledger cannot be written: the switch is held in the reserve,
    /// which admission reads too. Always throws: exit 8 when held, the ledger's error if not.
    static func holdUnrecorded(reason: String?, reserve: IntentReserve, actor: String, cause: MCRunError) throws(MCRunError) -> Never {
        do {
            _ = try reserve.record(
                IntentReserve.Intent(kind: .killswitch, ticket: "", runtimeID: nil, reason: reason ?? "no reason given", actor: actor, at: WallClock.now()))
        } catch {
            throw MCRunError(cause.code, cause.reason, "\(cause.message); the kill switch could not be held in \(reserve.path) either (\(error))")
        }
        throw MCRunError(
            .unrecorded, "killswitch_unrecorded",
            "the kill switch is ON, held in \(reserve.path): starts, adopts, sends and relaunches are refused; the ledger could not record it (\(cause.message)) and will when it can be written"
        )
    }
}

extension Ending {
    /// In the end's transaction: a stop means no relaunch, and a park holds the ticket.
    static func holdStopped(_ db: Database, _ intent: IntentReserve.Intent, runtime: Runtime?, now: Double) throws {
        if try Ledger.cancelRetry(db, ticket: intent.ticket) {
            try Ledger.appendEvent(db, kind: "retry_cancelled", ticket: intent.ticket, actor: intent.actor, reason: intent.reason, now: now)
        }
        if intent.kind == .park {
            try TicketTransition.park(reason: intent.reason).apply(
                db, ticket: intent.ticket, actor: intent.actor,
                data: ["recorded_late": true, "stopped_at": .double(intent.at), "runtime_id": JSONValue(runtime?.id)], runtime: runtime, now: now)
        }
    }

    /// An intent whose runtime has ended since, recorded by another path (a later stop, or
    /// a death recorded before the intent was kept): the stop still means no relaunch for
    /// that runtime, and the park still holds the ticket, unless it was unparked since. A
    /// retry owed for a later episode, or a park lifted after the intent, is not touched.
    static func holdStoppedLate(_ db: Database, _ intent: IntentReserve.Intent, now: Double) throws {
        guard let runtimeID = intent.runtimeID else { return try holdStopped(db, intent, runtime: nil, now: now) }
        // Only the retry owed for that runtime's death: one owed for a later episode stays.
        if try Ledger.claimRetry(db, ticket: intent.ticket, runtimeID: runtimeID) {
            try Ledger.appendEvent(db, kind: "retry_cancelled", ticket: intent.ticket, actor: intent.actor, reason: intent.reason, now: now)
        }
        guard intent.kind == .park, try !Ledger.unparked(db, ticket: intent.ticket, after: intent.at) else { return }
        try TicketTransition.park(reason: intent.reason).apply(
            db, ticket: intent.ticket, actor: intent.actor,
            data: ["recorded_late": true, "stopped_at": .double(intent.at), "runtime_id": .int(runtimeID)], runtime: nil, now: now)
    }

    /// A stop or park whose stopper died (killed in its grace period) while its agent still
    /// runs: the request is recorded now, as the stopper would have, with no stopper, so the
    /// service takes the stop over at its next pass (as it does a stop left unfinished).
    static func recordAbandonedStop(_ db: Database, _ intent: IntentReserve.Intent, runtime: Runtime, now: Double) throws {
        guard runtime.state != .stopping else { return try holdStopped(db, intent, runtime: runtime, now: now) }
        let stopping = try Transition.stopRequested.apply(
            db, runtimeID: runtime.id!, actor: intent.actor, reason: intent.reason, data: ["recorded_late": true, "stopped_at": .double(intent.at)],
            now: now
        ) { r in
            r.stopperPID = nil
            r.stopperStartTime = nil
            r.stopDeadline = nil
        }
        try holdStopped(db, intent, runtime: stopping, now: now)
    }

    /// Records what the reserve holds, now that the ledger may be writable: the kill switch,
    /// parks and stops (an agent gone since is ended as its stop). A stop whose agent is
    /// still alive is left to its stopper while that runs; once the stopper is gone, the
    /// request is recorded and the service finishes it. Stops at the first write the ledger
    /// refuses. Returns the runtimes ended here whose teardown is owed, torn down already
    /// unless `tearDown` is false (serve schedules its own).
    @discardableResult
    public func replayIntents(tearDown: Bool = true) -> [Runtime] {
        let reserve = IntentReserve(directory: context.stateDirectory)
        var ended: [Runtime] = []
        for intent in reserve.pending() {
            do throws(MCRunError) {
                switch intent.kind {
                case .killswitch:
                    try context.ledger.write { db in
                        guard try !Ledger.recordedKillSwitch(db).on else { return }
                        try Ledger.setSetting(db, .killswitch, intent.reason, now: intent.at)
                        try Ledger.appendEvent(
                            db, kind: "killswitch", actor: intent.actor, reason: intent.reason, data: ["on": true, "recorded_late": true])
                    }
                    reserve.clear(intent)
                case .stop, .park:
                    if let id = intent.runtimeID, let runtime = try context.ledger.read({ db in try Ledger.runtime(db, id: id) }), runtime.state.isLive {
                        if let liveness = runtime.identity?.liveness(), [.exited, .recycled, .otherBoot].contains(liveness) {
                            // Recorded as the stop it was (the ending path reads the reserve) and cleared there.
                            for end in try record([Subject(runtime, .death(liveness))]) where end.applied {
                                ended.append(tearDown ? self.tearDown(end.runtime) : end.runtime)
                            }
                            continue
                        }
                        guard intent.stopperGone else { continue }
                        try context.ledger.write { db in try Self.recordAbandonedStop(db, intent, runtime: runtime, now: WallClock.now()) }
                        reserve.clear(intent)
                        continue
                    }
                    try context.ledger.write { db in try Self.holdStoppedLate(db, intent, now: WallClock.now()) }
                    reserve.clear(intent)
                }
            } catch {
                if error.ledgerUnwritable { break }
            }
        }
        return ended
    }
}
