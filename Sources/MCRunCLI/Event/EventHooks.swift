import ArgumentParser
import Logging
import MCRunCore
import MCRunService

struct EventHooks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "event-hooks",
        abstract: "Event hooks: executables run per event kind with the event as JSON on stdin.",
        discussion: """
            Hooks live in --hooks-dir, $MCRUN_EVENT_HOOKS_DIR or STATE_DIR/event-hooks.d. A file named
            after an event kind (death, retry, retry_refused, retry_cancelled, escalation, park, stop,
            completion, quarantine, orphan, waiting, host_incident, host_incident_closed, or any other
            kind) runs for that kind; a file named `any` runs for those listed.
            `mcrun serve` delivers them; `mcrun event-hooks deliver` does the same in the foreground.
            Not to be confused with the agent's own hooks, which report to `mcrun activity` and
            `mcrun signal`, nor with the pane-log hook.

            EXAMPLES:
              mcrun event-hooks list --state failed
              mcrun event-hooks deliver --once --hooks-dir ./event-hooks.d
            """,
        subcommands: [EventHooksDeliver.self, EventHooksList.self])
}

struct DispatcherOptions: ParsableArguments {
    @Option(help: "Folder of event hooks (default: $MCRUN_EVENT_HOOKS_DIR, else STATE_DIR/event-hooks.d).")
    var hooksDir: String?

    @Option(
        parsing: .unconditional, help: "Kill a hook (and its process group) still running after this long, and retry it, 1ms to 24h (default 30s).",
        transform: Bounded.duration(1...DurationText.day))
    var timeout: DurationArgument?

    @Option(parsing: .unconditional, help: "Attempts before a delivery is recorded as failed, 1 to 1000 (default 6).", transform: Bounded.integer(1...1000))
    var maxAttempts: Int?

    @Option(
        parsing: .unconditional, help: "Backoff after the first failure, doubled after each further one, 0s to 24h (default 1s).",
        transform: Bounded.duration(0...DurationText.day))
    var backoff: DurationArgument?

    @Option(parsing: .unconditional, help: "Longest backoff, 0s to 24h (default 5m).", transform: Bounded.duration(0...DurationText.day))
    var maxBackoff: DurationArgument?

    @Option(parsing: .unconditional, help: "How often to look for new events, 10ms to 1h (default 200ms).", transform: Bounded.duration(10...DurationText.hour))
    var poll: DurationArgument?

    func configuration(_ context: MCRunContext) throws(MCRunError) -> EventHookDispatcher.Configuration {
        var c = EventHookDispatcher.Configuration.resolve(explicit: hooksDir, stateDirectory: context.stateDirectory, environment: context.environment)
        if let timeout { c.timeoutMilliseconds = timeout.milliseconds }
        if let maxAttempts { c.maxAttempts = maxAttempts }
        if let backoff { c.backoffMilliseconds = backoff.milliseconds }
        if let maxBackoff { c.maxBackoffMilliseconds = maxBackoff.milliseconds }
        if let poll { c.pollMilliseconds = poll.milliseconds }
        return c
    }
}

struct EventHooksDeliver: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliver",
        abstract: "Run the event-hook dispatcher in the foreground (what serve runs); --once flushes and exits.",
        discussion: """
            Without --once it runs until SIGINT or SIGTERM. With --once it delivers every pending
            delivery, waiting out backoffs, and exits when none is pending (each delivered or
            failed). Deliveries are leases in the ledger: a dispatcher killed mid-delivery leaves
            them to the next one, which redelivers.

            EXAMPLES:
              mcrun event-hooks deliver --once
              mcrun event-hooks deliver --hooks-dir /etc/mcrun/event-hooks.d --timeout 1m
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: DispatcherOptions

    @Flag(help: "Deliver everything pending, then exit.")
    var once = false

    func run() async throws {
        do {
            let context = try global.context()
            let configuration = try options.configuration(context)
            var logger = Logger(label: "mcrun.event-hooks", factory: { StreamLogHandler.standardError(label: $0) })
            logger.logLevel = .info
            let dispatcher = try EventHookDispatcher(context: context, configuration: configuration, logger: logger)
            if once {
                let s = await dispatcher.drain()
                let pending = try context.ledger.pendingHookDeliveryCount()
                let fields: [String: JSONValue] = [
                    "enqueued": .int(Int64(s.enqueued)), "delivered": .int(Int64(s.delivered)), "retried": .int(Int64(s.retried)),
                    "failed": .int(Int64(s.failed)), "pending": .int(Int64(pending)), "hooks_dir": .string(configuration.directory),
                ]
                if global.json {
                    var o = fields
                    o["ok"] = true
                    o["code"] = 200
                    Output.printJSON(.object(o))
                } else {
                    Output.write(
                        "delivered \(s.delivered), retried \(s.retried), failed \(s.failed), pending \(pending) (hooks in \(configuration.directory))\n", to: 1)
                }
                return
            }
            try await dispatcher.runUntilSignalled()
        } catch let error as MCRunError {
            Output.fail(error, json: global.json)
            throw ExitCode(error.code.exitCode)
        }
    }
}

struct EventHooksList: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Show hook deliveries and every attempt: pending, delivered or failed.",
        discussion: """
            EXAMPLES:
              mcrun event-hooks list
              mcrun event-hooks list --state failed --json
              mcrun event-hooks list --event 1200
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "Only deliveries in this state: pending, delivered or failed.")
    var state: String?

    @Option(parsing: .unconditional, help: "Only deliveries of this event id.", transform: Bounded.integer(Bounded.eventID))
    var event: Int64?

    @Option(parsing: .unconditional, help: "At most this many deliveries, newest first, 1 to 100000 (default 100).", transform: Bounded.integer(1...100_000))
    var limit: Int = 100

    func execute() throws(MCRunError) -> Reply {
        if let state, !["pending", "delivered", "failed"].contains(state) {
            throw .badInput("bad_state", "--state must be pending, delivered or failed")
        }
        let context = try global.context()
        let deliveries = try context.ledger.hookDeliveries(state: state, eventID: event, limit: limit)
        var json: [JSONValue] = []
        var table: [[String]] = []
        for d in deliveries {
            let tries = d.tries.map { a -> JSONValue in
                [
                    "attempt": .int(Int64(a.attempt)), "started_at": .double(a.startedAt), "ended_at": JSONValue(a.endedAt),
                    "outcome": JSONValue(a.outcome), "exit_code": JSONValue(a.exitCode),
                    "exit_signal": JSONValue(a.exitSignal), "error": JSONValue(a.error),
                ]
            }
            json.append([
                "id": .int(d.id), "event_id": .int(d.eventID), "kind": .string(d.eventKind), "hook": .string(d.hook),
                "state": .string(d.state), "attempts": .int(Int64(d.attempts)), "next_attempt_at": .double(d.nextAttemptAt),
                "last_exit": JSONValue(d.lastExit), "last_error": JSONValue(d.lastError),
                "delivered_at": JSONValue(d.deliveredAt), "tries": .array(tries),
            ])
            table.append([String(d.id), String(d.eventID), d.eventKind, d.hook, d.state, String(d.attempts), d.lastError ?? "-"])
        }
        return Reply(
            fields: ["deliveries": .array(json)],
            human: table.isEmpty ? "no hook deliveries" : RuntimeView.table(["ID", "EVENT", "KIND", "HOOK", "STATE", "ATTEMPTS", "LAST ERROR"], table))
    }
}
