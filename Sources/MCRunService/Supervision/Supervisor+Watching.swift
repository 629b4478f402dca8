import Logging
import MCRunCore

/// Watching agents by pidfd (polling where the kernel has none) and recording their deaths.
extension Supervisor {
    func watch(_ runtime: Runtime) {
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
                    reap([(runtime, now)])
                case .alive, .unknown:
                    logger.warning(
                        "cannot open a handle on the agent (\(now.rawValue)); looking again at the next pass", metadata: Self.metadata(runtime))
                }
                return
            }
            watched[id] = Watch(runtime: runtime, handle: handle)
            // The agent may have exited between the liveness check and epoll_ctl; a
            // level-triggered pidfd reports that at the next wait.
            if handle.pidfd < 0 || !poller.watch(pidfd: handle.pidfd, runtimeID: id) {
                polled.insert(id)
            }
        case .unknown:
            logger.warning("cannot tell whether the agent is alive; not recording anything", metadata: Self.metadata(runtime))
        default:
            reap([(runtime, liveness)])
        }
    }

    func unwatch(_ runtimeID: Int64) -> ProcessHandle? {
        guard let watch = watched.removeValue(forKey: runtimeID) else { return nil }
        polled.remove(runtimeID)
        if watch.handle.pidfd >= 0 { poller.unwatch(pidfd: watch.handle.pidfd) }
        return watch.handle
    }

    /// Agents found gone: their ends are recorded through the ending path, all in one
    /// transaction, before anything is torn down; teardowns then run in the background.
    /// False when the ledger did not take them: they stay unrecorded, which holds the
    /// watchdog, and the next pass tries again.
    @discardableResult
    func reap(_ gone: [(runtime: Runtime, liveness: AgentIdentity.Liveness)]) -> Bool {
        let ids = gone.map { $0.runtime.id! }
        var subjects: [Ending.Subject] = []
        let noticedAt = WallClock.now()
        let noticed = Instant.now
        for (runtime, liveness) in gone {
            subjects.append(Ending.Subject(runtime, .death(liveness), handle: unwatch(runtime.id!), noticedAt: noticedAt))
        }
        // Kept for the teardown: the kernel's exit status comes through the pidfd once tmux
        // has reaped the agent, which may be after the record.
        let handles = Dictionary(subjects.compactMap { s in s.handle.map { (s.runtime.id!, $0) } }, uniquingKeysWith: { a, _ in a })
        do {
            for ended in try ending.record(subjects) where ended.applied {
                log(ended)
                // A tmux loss is looked at by a pass at once: the server may be back already.
                if ended.hostIncident?.kind == .tmuxLost { nextPass = .now }
                if case .retry(let dueAt)? = ended.death?.decision {
                    retries[ended.runtime.ticket] = PendingRetry(
                        ticket: ended.runtime.ticket, runtimeID: ended.runtime.id!, dueAt: dueAt, createdAt: WallClock.now())
                }
                scheduleTeardown(ended.runtime, handle: handles[ended.runtime.id!])
            }
        } catch {
            recordFailed(error, noticedAt: noticed)
            unrecorded.formUnion(ids)
            logger.error(
                "cannot record \(gone.count == 1 ? "a death" : "\(gone.count) deaths"): \(error.message); the watchdog waits until they are",
                metadata: ["event": "death"])
            return false
        }
        unrecorded.subtract(ids)
        configuration.onEvents?()
        return true
    }

    /// Leftovers, session and transcript of an ended runtime, off the loop thread: queued,
    /// and started as a slot frees.
    func scheduleTeardown(_ runtime: Runtime, handle: ProcessHandle? = nil) {
        guard let id = runtime.id, runtime.teardownOwed, tearingDown.insert(id).inserted else { return }
        teardownQueue.append((runtime, handle))
        startQueuedTeardowns()
    }

    func startQueuedTeardowns() {
        let running = tearingDown.count - teardownQueue.count
        let slots = loop.isStopping ? 0 : max(0, Self.teardownLimit - running)
        guard slots > 0, !teardownQueue.isEmpty else { return }
        for (runtime, handle) in teardownQueue.prefix(slots) {
            let id = runtime.id!
            let started = work.start("mcrun-teardown-\(id)", niceness: Self.teardownNiceness) { [self] in
                ending.tearDown(runtime, handle: handle)
                post(.teardownDone(runtimeID: id))
            }
            if !started { tearingDown.remove(id) }
        }
        teardownQueue.removeFirst(min(slots, teardownQueue.count))
    }

    func pollWithoutPidfd() {
        guard !polled.isEmpty, nextPoll.hasPassed else { return }
        nextPoll = .after(milliseconds: configuration.pollIntervalMilliseconds)
        var gone: [(Runtime, AgentIdentity.Liveness)] = []
        for id in polled {
            guard let runtime = watched[id]?.runtime, let identity = runtime.identity else { continue }
            let liveness = identity.liveness()
            if liveness != .alive && liveness != .unknown { gone.append((runtime, liveness)) }
        }
        if !gone.isEmpty { reap(gone) }
    }

    /// After a nudge: start watching runtimes the CLI started, from the ledger alone.
    func pickUp() {
        do {
            for runtime in try context.ledger.runningRuntimes() where watched[runtime.id!] == nil { watch(runtime) }
        } catch {
            logger.warning("cannot read the ledger after a nudge: \(error.message)")
        }
    }

    private func log(_ ended: Ending.Ended) {
        let runtime = ended.runtime
        var metadata = Self.metadata(runtime)
        if let code = runtime.exitCode { metadata["exit_code"] = "\(code)" }
        if let signal = runtime.exitSignal { metadata["exit_signal"] = "\(signal)" }
        if ended.completed {
            metadata["event"] = "completion"
            logger.info("agent exited after reporting DONE", metadata: metadata)
            return
        }
        guard let death = ended.death else { return }
        metadata["event"] = "death"
        metadata["deaths"] = "\(death.deaths)"
        switch death.decision {
        case .retry(let dueAt):
            logger.info("agent died; relaunching once in \(Int(max(0, (dueAt - WallClock.now()) * 1000))) ms", metadata: metadata)
        case .escalate:
            if death.escalatedNow { metadata["event"] = "escalation" }
            logger.warning("agent died again; ticket escalated, not relaunched", metadata: metadata)
        }
    }
}
