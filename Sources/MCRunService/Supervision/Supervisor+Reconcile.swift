import Logging
import MCRunCore
import Synchronization

/// The safety net under the pidfds: one full pass over tmux and the ledger.
extension Supervisor {
    /// Members of the state directory's group may watch the agents read-only; checked each
    /// pass, since the tmux server may have been restarted or the group changed.
    func grantOperators() {
        do {
            let added = try context.tmux.grantReadOnly(context.stateDirectory.operators())
            operatorAccessFailure = nil
            if !added.isEmpty {
                logger.info("read-only tmux access for \(added.joined(separator: ", "))", metadata: ["event": "operators_granted"])
            }
        } catch {
            let why = "\(error)"
            guard why != operatorAccessFailure else { return }
            operatorAccessFailure = why
            logger.warning("cannot grant the operators read-only tmux access: \(why)", metadata: ["event": "operators_not_granted"])
        }
    }

    /// One full pass: ONE tmux snapshot, then the ledger. True when both answered.
    func reconcile() -> Bool {
        let snapshot: TmuxServer.Snapshot
        do {
            snapshot = try context.tmux.snapshot()
        } catch {
            return passFailed("tmux did not answer: \(error)")
        }
        let live: [Runtime]
        do {
            live = try context.ledger.liveRuntimes()
        } catch {
            return passFailed("the ledger did not answer: \(error.message)")
        }

        let liveIDs = Set(live.compactMap(\.id))
        for id in Array(watched.keys) where !liveIDs.contains(id) { _ = unwatch(id) }
        var gone: [(Runtime, AgentIdentity.Liveness)] = []
        for runtime in live {
            if let liveness = reconcile(runtime) { gone.append((runtime, liveness)) }
        }
        if !gone.isEmpty && !reap(gone) { return passFailed("cannot record \(gone.count) death\(gone.count == 1 ? "" : "s")") }
        // Runtimes no longer running (recorded by a command meanwhile) are no longer owed.
        unrecorded.formIntersection(live.filter { $0.state == .running }.compactMap(\.id))

        // Stops, parks and the kill switch done while the ledger could not be written.
        for runtime in ending.replayIntents(tearDown: false) { scheduleTeardown(runtime) }

        grantOperators()

        // Outside systemd serve keeps the server itself: started again after a loss, once the
        // deaths it caused are recorded as the host's.
        var tmuxRunning = snapshot.serverRunning
        if !tmuxRunning && !notifier.isUnderSystemd {
            ensureTmuxServer()
            tmuxRunning = (try? context.tmux.snapshot().serverRunning) ?? false
        }
        noteTmuxServer(running: tmuxRunning)
        settleHostIncidents(tmuxRunning: tmuxRunning)

        let liveSessions = Set(live.map(\.sessionName))
        reconcileSessions(snapshot.panes.filter { !liveSessions.contains($0.sessionName) })
        finishOwedTeardowns()

        // Read after this pass's deaths and healings: retries owed for deaths it found (or
        // recorded while serve was down) are due now, not a pass later; and so that STATUS=
        // (and READY's) is current.
        do {
            passSucceeded(try context.ledger.passView())
        } catch {
            return passFailed("the ledger did not answer: \(error.message)")
        }
        return true
    }

    /// Looks at one live runtime; returns how its agent is gone when it is.
    private func reconcile(_ runtime: Runtime) -> AgentIdentity.Liveness? {
        let id = runtime.id!
        switch runtime.state {
        case .running:
            guard let identity = runtime.identity else { return nil }
            let liveness = identity.liveness()
            if liveness == .alive {
                if watched[id] == nil { watch(runtime) } else { watched[id]?.runtime = runtime }
                return nil
            }
            return liveness == .unknown ? nil : liveness
        case .launching:
            guard runtime.isAbandonedLaunch else { return nil }
            // Through the ending path: a relaunch abandoned this way is owed again.
            do {
                let ended = try ending.record([Ending.Subject(runtime, .launchFailed(reason: "launcher_gone", detail: [:]))])[0]
                guard ended.applied else { return nil }
                scheduleTeardown(ended.runtime)
                logger.warning("launch abandoned by its launcher; marked failed", metadata: Self.metadata(runtime).merging(["event": "launch_failed"]) { $1 })
            } catch {
                logger.warning("cannot fail an abandoned launch: \(error.message)", metadata: Self.metadata(runtime))
            }
        case .stopping:
            // Past the limit, or shutting down, it is taken over by a later pass or serve.
            guard runtime.isAbandonedStop(), launchesInFlight < Self.launchLimit, !loop.isStopping, finishing.insert(id).inserted
            else { return nil }
            logger.warning("stop left unfinished by its stopper; finishing it", metadata: Self.metadata(runtime).merging(["event": "stop"]) { $1 })
            let started = work.start("mcrun-stop-\(id)") { [self] in
                let parked = (try? context.ledger.ticket(id: runtime.ticket))??.parked ?? false
                _ = try? Stopper(context: context).finish(
                    runtime, options: Stopper.Options(reason: parked ? "parked" : "stop_resumed", graceMilliseconds: 5_000), parked: parked)
                post(.finishDone(runtimeID: id))
            }
            if !started { finishing.remove(id) }
        default:
            break
        }
        return nil
    }

    /// Under systemd the server is mcrun-tmux.service's: while it is down serve waits for
    /// it and says so (log once, STATUS=), and never starts one.
    func noteTmuxServer(running: Bool) {
        let wasDown = tmuxDown
        tmuxDown = !running
        guard notifier.isUnderSystemd else { return }
        if !running && !wasDown {
            shared.withLock { $0.tmuxDownSince = Instant.now }
            logger.warning(
                "mcrun's tmux server is not running; waiting for mcrun-tmux.service (serve never starts it under systemd); relaunches wait",
                metadata: ["event": "tmux_down"])
        } else if running && wasDown {
            shared.withLock { $0.tmuxDownSince = nil }
            logger.info("mcrun's tmux server is running again", metadata: ["event": "tmux_up"])
        }
    }

    /// Closes the tmux incident once the server answers (its held relaunches go), and the
    /// breaker once its probe has outlived the fast-death time.
    private func settleHostIncidents(tmuxRunning: Bool) {
        if tmuxRunning {
            do {
                if let closed = try context.ledger.tmuxServerBack(actor: context.actor) {
                    deferred.removeAll()
                    logger.info(
                        "mcrun's tmux server is back; relaunching the \(closed.runtimes) runtime\(closed.runtimes == 1 ? "" : "s") it took down, once",
                        metadata: ["event": "host_incident_closed", "kind": "\(closed.kind.rawValue)", "incident_id": "\(closed.id)"])
                }
            } catch {
                logger.warning("cannot close the tmux incident: \(error.message)")
            }
        }
        do {
            if let closed = try context.ledger.settleBreakerProbe(actor: context.actor) {
                deferred.removeAll()
                logger.info(
                    "the breaker's probe survived; breaker closed, held starts and relaunches may go",
                    metadata: ["event": "host_incident_closed", "kind": "\(closed.kind.rawValue)", "incident_id": "\(closed.id)"])
            }
        } catch {
            logger.warning("cannot settle the breaker's probe: \(error.message)")
        }
    }

    /// Teardowns a crash left owed, other than those already under way.
    private func finishOwedTeardowns() {
        guard let owed = try? context.ledger.teardownsOwed() else { return }
        for runtime in owed { scheduleTeardown(runtime) }
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
            owners = try context.ledger.runtimes(sessionNames: names)
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
            guard !runtime.state.isLive, !tearingDown.contains(runtime.id!) else { continue }
            let agentAlive = !pane.dead && runtime.identity?.pid == pane.panePID && runtime.identity?.liveness() == .alive
            if agentAlive && runtime.state == .dead && heal(runtime, pane: pane) { continue }
            if runtime.teardownOwed && !agentAlive { continue }  // finished by finishOwedTeardowns
            _ = ending.removeLeftoverSession(runtime, pane: pane, agentAlive: agentAlive)
            logger.warning(
                "removed the session of an ended runtime", metadata: Self.metadata(runtime).merging(["event": "leftover_session"]) { $1 })
        }
    }

    /// True when the live agent was re-adopted, or is left alone while the kill switch is on.
    private func heal(_ runtime: Runtime, pane: TmuxServer.Pane) -> Bool {
        let id = runtime.id!
        do {
            switch try ending.heal(runtime, pane: pane) {
            case .healed(let healed):
                heldByKillSwitch.remove(id)
                logger.warning("agent recorded dead is alive; re-adopted", metadata: Self.metadata(healed).merging(["event": "healed"]) { $1 })
                retries[healed.ticket] = nil
                watch(healed)
                return true
            case .leftAlone:
                if heldByKillSwitch.insert(id).inserted {
                    logger.warning(
                        "agent recorded dead is alive; the kill switch is on, so it is neither re-adopted nor killed until the switch is off",
                        metadata: Self.metadata(runtime).merging(["event": "healed"]) { $1 })
                }
                return true
            case .refused:
                heldByKillSwitch.remove(id)
                return false
            }
        } catch {
            logger.warning("cannot re-adopt a live agent: \(error.message)", metadata: Self.metadata(runtime))
            return true
        }
    }

    private func reportOrphan(_ pane: TmuxServer.Pane, key: String) {
        guard !reportedOrphans.contains(key) else { return }
        reportedOrphans.insert(key)
        do {
            if try context.ledger.recordOrphan(pane, actor: context.actor) {
                logger.warning("session \(pane.sessionName) belongs to no runtime", metadata: ["event": "orphan", "session": "\(pane.sessionName)"])
            }
        } catch {
            reportedOrphans.remove(key)
        }
    }
}
