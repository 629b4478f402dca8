import ArgumentParser
import MCRunCore
import MCRunService

struct HostMetrics: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Print the host's metrics in the Prometheus text format.",
        discussion: """
            Runtimes by state; deaths, relaunches, escalations, event-hook failures and
            orphan sessions (counters, counted from the ledger's events); how long serve
            took from noticing a death to recording it (histogram; deaths found by a
            command instead of serve are not in it); when serve last completed a pass; the
            send-queue depth. `mcrun serve --metrics-textfile PATH` writes the same after
            every pass, for node_exporter's textfile collector. --json gives the same
            numbers as one object.

            EXAMPLES:
              mcrun metrics
              mcrun metrics | grep mcrun_runtimes
              mcrun serve --metrics-textfile /var/lib/prometheus/node-exporter/mcrun.prom
            """)

    @OptionGroup var global: GlobalOptions

    func execute() throws(MCRunError) -> Reply {
        let context = try global.readContext()
        let m = try context.ledger.metrics()
        let running = ServeLock.holder(context.stateDirectory) != nil
        let now = WallClock.now()
        var states: [String: JSONValue] = [:]
        for (state, n) in m.runtimesByState { states[state.rawValue] = .int(Int64(n)) }
        var events: [String: JSONValue] = [:]
        for (kind, n) in m.events { events[kind] = .int(Int64(n)) }
        let fields: [String: JSONValue] = [
            "runtimes": .object(states), "events": .object(events),
            "death_record_seconds": [
                "count": .int(Int64(m.deathRecordSeconds.count)), "sum": .double(m.deathRecordSeconds.reduce(0, +)),
                "max": JSONValue(m.deathRecordSeconds.max()),
            ],
            "send_queue_depth": .int(Int64(m.sendQueuePending)), "event_hook_deliveries_pending": .int(Int64(m.hookDeliveriesPending)),
            "tickets_escalated": .int(Int64(m.ticketsEscalated)), "tickets_parked": .int(Int64(m.ticketsParked)),
            "relaunches_owed": .int(Int64(m.relaunchesOwed)), "killswitch": .bool(m.killSwitchOn), "serve_running": .bool(running),
            "serve_last_pass_at": JSONValue(m.heartbeat?.lastPassAt),
        ]
        return Reply(fields: fields, human: MetricsExposition.render(m, serveRunning: running, now: now))
    }
}
