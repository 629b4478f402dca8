import Logging
import MCRunCore

/// Relaunches owed for first deaths: started when due, refused ones held with their reason.
extension Supervisor {
    /// Relaunches and stops taken over under way, against `launchLimit`.
    var launchesInFlight: Int { relaunching.count + finishing.count }

    func startDueRetries() {
        // With no tmux server (under systemd: until its unit is back) nothing is relaunched.
        if tmuxDown && notifier.isUnderSystemd { return }
        let now = WallClock.now()
        for retry in retries.values.sorted(by: { $0.dueAt < $1.dueAt })
        where retry.dueAt <= now && !relaunching.contains(retry.ticket) && !deferred.contains(retry.ticket)
            // Held by a tmux incident until the pass finds the server back.
            && retry.heldReason != "tmux_down"
            // Leftovers of the dead episode go before a new one starts.
            && !tearingDown.contains(retry.runtimeID)
        {
            // Past the limit, or shutting down: it stays owed, started by a later turn or serve.
            guard launchesInFlight < Self.launchLimit, !loop.isStopping else { return }
            relaunching.insert(retry.ticket)
            let started = work.start("mcrun-relaunch-\(retry.ticket)") { [self] in
                let result = relaunch(retry)
                post(.relaunchDone(retry: retry, result: result))
            }
            if !started { relaunching.remove(retry.ticket) }
        }
    }

    /// Runs as child work: a launch waits for the shim, which must not hold up the loop.
    private func relaunch(_ retry: PendingRetry) -> RelaunchResult {
        let metadata: Logger.Metadata = ["ticket": "\(retry.ticket)", "runtime_id": "\(retry.runtimeID)"]
        var previous: Runtime
        do {
            guard let found = try context.ledger.runtime(id: retry.runtimeID) else { return .finished }
            previous = found
        } catch {
            logger.warning("cannot read the runtime to relaunch: \(error.message)", metadata: metadata)
            return .deferred
        }
        // A teardown left owed by a crash is finished first.
        if previous.teardownOwed {
            previous = ending.tearDown(previous)
            if previous.teardownOwed { return .deferred }
        }
        do {
            let runtime = try Launcher(context: context).relaunch(
                retry, from: previous, timeoutMilliseconds: configuration.launchTimeoutMilliseconds, startsTmuxServer: !notifier.isUnderSystemd)
            logger.info(
                "relaunched \(runtime.ticket) as episode \(runtime.episode)",
                metadata: ["ticket": "\(runtime.ticket)", "runtime_id": "\(runtime.id!)", "event": "retry"])
            if let missing = runtime.paneLogMissing {
                logger.warning(
                    "\(runtime.ticket) runs without a pane log: \(missing)",
                    metadata: ["ticket": "\(runtime.ticket)", "runtime_id": "\(runtime.id!)", "event": "pane_log_missing"])
            }
            return .launched(runtime)
        } catch  where error.reason == "retry_cancelled" {
            return .finished
        } catch  where error.code == .internalError || error.code == .busy && error.reason == "stopped_during_launch" {
            // Admitted, but the agent did not start: the ending path owed the relaunch again
            // or escalated the ticket, per the death policy.
            logger.error("the relaunch of \(retry.ticket) did not start: \(error.message)", metadata: metadata.merging(["event": "launch_failed"]) { $1 })
            return .finished
        } catch {
            return refused(retry, previous: previous, error: error, metadata: metadata)
        }
    }

    /// Refusals that pass by themselves (or by an operator's switch): the retry stays owed.
    static let passingRefusals: Set<String> = ["killswitch", "capacity", "capacity_unknown", "breaker_open", "tmux_down"]

    /// Refused by the same admission as `start`. While the kill switch is on or capacity is
    /// full the retry stays owed, marked held with the reason, and is tried again after each
    /// pass; anything else (a parked ticket, a live runtime started meanwhile) drops it.
    /// Either way `retry_refused` is recorded once per reason, not once per attempt.
    private func refused(_ retry: PendingRetry, previous: Runtime, error: MCRunError, metadata: Logger.Metadata) -> RelaunchResult {
        let keep = Self.passingRefusals.contains(error.reason)
        let recorded =
            keep
            ? try? PendingRetry.hold(
                ledger: context.ledger, ticket: retry.ticket, runtime: previous, reason: error.reason, message: error.message, actor: context.actor)
            : try? PendingRetry.drop(
                ledger: context.ledger, ticket: retry.ticket, runtime: previous, reason: error.reason, message: error.message, actor: context.actor)
        if recorded == true {
            logger.warning(
                "relaunch of \(retry.ticket) refused\(keep ? " for now; tried again after each pass" : ""): \(error.message)",
                metadata: metadata.merging(["event": "retry_refused"]) { $1 })
        }
        return keep ? .deferred : .finished
    }
}
