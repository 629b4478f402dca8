public import Logging
public import MCRunCore
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `mcrun serve`: the supervision loop and the heartbeat that reports it to systemd, run as
/// a service group that shuts down gracefully on SIGTERM or SIGINT.
public enum Serve {
    /// The command's entry point: journal or stderr logging, sd_notify when systemd runs it.
    /// Returns the error that ended it, nil after a graceful shutdown.
    public static func main(
        context: MCRunContext, configuration: SupervisorConfiguration, eventHooks: EventHookDispatcher.Configuration,
        metricsTextfile: String? = nil
    ) async -> MCRunError? {
        MCRunLogging.bootstrap(level: .info)
        let logger = Logger(label: "mcrun.serve")
        do {
            try await run(
                context: context, configuration: configuration, eventHooks: eventHooks, notifier: SystemdNotifier(logger: logger),
                logger: logger, metricsTextfile: metricsTextfile)
            return nil
        } catch {
            return error
        }
    }

    /// Runs until SIGTERM/SIGINT; holds the state directory's serve lock meanwhile.
    /// Returns normally after a graceful shutdown; the agents keep running.
    public static func run(
        context: MCRunContext, configuration: SupervisorConfiguration, eventHooks: EventHookDispatcher.Configuration? = nil,
        notifier: any ServiceNotifying, logger: Logger, metricsTextfile: String? = nil
    ) async throws(MCRunError) {
        let lock = try ServeLock.acquire(context.stateDirectory)
        defer { withExtendedLifetime(lock) {} }
        var configuration = configuration
        if let watchdog = notifier.watchdogInterval {
            // A full pass must land well inside every half-interval the heartbeat checks.
            configuration.passIntervalMilliseconds = max(50, min(configuration.passIntervalMilliseconds, Int(watchdog.milliseconds) / 4))
        }
        let hooks = try eventHooks.map { c throws(MCRunError) in try EventHookDispatcher(context: context, configuration: c, logger: logger) }
        if let hooks { configuration.onEvents = { hooks.ring() } }
        if let metricsTextfile { configuration.afterPass = metricsWriter(context: context, path: metricsTextfile, logger: logger) }
        let supervisor = try Supervisor(context: context, configuration: configuration, notifier: notifier, logger: logger)
        // Shut down in reverse order: the loop first (STOPPING=1), then hooks, then the heartbeat.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: Heartbeat(supervisor: supervisor, notifier: notifier), serviceName: "heartbeat")
        ]
        if let hooks { services.append(.init(service: hooks, serviceName: "event-hooks")) }
        services.append(.init(service: try SendQueueDrainer(context: context, logger: logger), serviceName: "send-queue"))
        services.append(.init(service: supervisor, serviceName: "supervisor"))
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch {
            throw MCRunError.internalError("mcrun serve stopped: \(error)", cause: error)
        }
    }

    /// Rewrites the node_exporter textfile after each pass; a failure is logged when it
    /// first happens and when it changes, not every pass.
    static func metricsWriter(context: MCRunContext, path: String, logger: Logger) -> @Sendable () -> Void {
        let lastFailure = Mutex<String?>(nil)
        return {
            var failure: String?
            do throws(MCRunError) {
                try MetricsExposition.writeTextfile(MetricsExposition.render(try context.ledger.metrics(), serveRunning: true), to: path)
            } catch {
                failure = error.message
            }
            let changed = lastFailure.withLock { last in
                defer { last = failure }
                return last != failure
            }
            if changed, let failure { logger.warning("cannot write the metrics textfile: \(failure)") }
        }
    }
}

/// `WATCHDOG=1` and `STATUS=` from a timer that looks at when the loop last completed a
/// full pass, never from the pass itself: a loop that is stuck anywhere stops the pings.
///
/// The deadline this gives, with W = `WatchdogSec`: passes run every W/4 at most; a ping
/// goes out (every min(W/2, 5 s)) only while the last full pass ended within W/2 and no
/// death noticed is waiting to be recorded. A loop that freezes, or a death the ledger
/// refuses, therefore stops the pings at most W/2 later, and systemd kills the service W
/// after the last ping: within 1.5 × W (45 s for the shipped 30 s).
struct Heartbeat: Service {
    let supervisor: Supervisor
    let notifier: any ServiceNotifying

    func run() async throws {
        let watchdog = notifier.watchdogInterval
        let period = watchdog.map { min($0 / 2, .seconds(5)) } ?? .seconds(5)
        let fresh = watchdog.map { $0 / 2 }
        let startupBound = Supervisor.startupBound(watchdog: watchdog)
        let start = Instant.now
        do {
            try await cancelWhenGracefulShutdown { [supervisor, notifier] in
                var lastStatus = ""
                while true {
                    try await Task.sleep(for: period)
                    let now = Instant.now
                    // READY must come, or systemd fails the start of a service that is only
                    // degraded; from then on the watchdog judges it.
                    if !supervisor.isReady && now - start >= startupBound { supervisor.readyDegraded(now: now) }
                    if Self.shouldPing(fresh: fresh, passAge: supervisor.lastFullPassAge(now: now), unrecorded: supervisor.deathsUnrecorded) {
                        notifier.watchdog()
                    }
                    let status = supervisor.statusLine(now: now)
                    if status != lastStatus {
                        notifier.status(status)
                        lastStatus = status
                    }
                }
            }
        } catch is CancellationError {
        }
    }

    /// A ping only for a full pass within the freshness window and no death left unwritten.
    static func shouldPing(fresh: Duration?, passAge: Duration?, unrecorded: Int) -> Bool {
        guard let fresh, let passAge else { return false }
        return passAge <= fresh && unrecorded == 0
    }
}
