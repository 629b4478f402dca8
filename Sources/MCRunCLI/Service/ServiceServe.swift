import ArgumentParser
import Glibc
import MCRunCore
import MCRunService

struct ServiceServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Supervise every runtime of the state directory: notice deaths, retry once, escalate.",
        discussion: """
            One instance per state directory; a second one exits 4 (already_running). Under
            systemd (Type=notify) it sends READY=1 after the first reconcile pass, STATUS=, and
            WATCHDOG=1 only while supervision passes complete. SIGTERM exits promptly and leaves
            every agent running in mcrun's tmux server. Without systemd it starts that tmux
            server itself and logs to stderr.

            EXAMPLES:
              mcrun serve
              mcrun serve --reconcile-interval 5s --retry-delay 1s
              mcrun serve --metrics-textfile /var/lib/prometheus/node-exporter/mcrun.prom
            """)

    @OptionGroup var global: GlobalOptions

    @Option(parsing: .unconditional, help: "Time between full reconcile passes, 50ms to 1h, default 15s (shortened to a quarter of the watchdog interval).", transform: Bounded.duration(50...DurationText.hour))
    var reconcileInterval = DurationArgument(milliseconds: 15_000)

    @Option(parsing: .unconditional, help: "Unexpected deaths of a ticket that are relaunched silently before it escalates, 0 to 1000 (stored as the host's max-silent-retries setting, which every command that records a death uses; default 1).", transform: Bounded.integer(0...1000))
    var maxSilentRetries: Int?

    @Option(parsing: .unconditional, help: "Delay before a silent relaunch, 0s to 24h (stored as the host's retry-delay setting; default 2s).", transform: Bounded.duration(0...DurationText.day))
    var retryDelay: DurationArgument?

    @Option(parsing: .unconditional, help: "How long a relaunched agent gets to report its identity, 1ms to 1h (default 10s; a bare number is milliseconds).", transform: Bounded.duration(Bounded.launchTimeout, bare: .milliseconds))
    var launchTimeout = DurationArgument(milliseconds: 10_000)

    @Option(help: "Event hooks folder (default: $MCRUN_EVENT_HOOKS_DIR, else STATE_DIR/event-hooks.d).")
    var hooksDir: String?

    @Option(help: "After each pass, write `mcrun metrics` to this file (atomically), e.g. for node_exporter's textfile collector: /var/lib/prometheus/node-exporter/mcrun.prom.")
    var metricsTextfile: String?

    func run() async throws {
        if let error = await serve() {
            Output.fail(error, json: global.json)
            throw ExitCode(error.code.exitCode)
        }
    }

    /// nil after a graceful shutdown.
    private func serve() async -> MCRunError? {
        let env = MCRunContext.processEnvironment()
        let context: MCRunContext
        do {
            context = try MCRunContext(
                stateDirectory: StateDirectory.resolve(explicit: global.stateDir, environment: env), environment: env,
                actor: global.actor ?? "serve (pid \(getpid()))")
        } catch {
            return error
        }
        // The death policy is the host's, kept in the ledger: the CLI records deaths with it too.
        do {
            if let maxSilentRetries { _ = try HostConfig.set(.maxSilentRetries, String(maxSilentRetries), ledger: context.ledger, actor: context.actor, source: .flag) }
            if let retryDelay { _ = try HostConfig.set(.retryDelay, "\(retryDelay.milliseconds)ms", ledger: context.ledger, actor: context.actor, source: .flag) }
        } catch {
            return error
        }
        let configuration = SupervisorConfiguration(
            passIntervalMilliseconds: reconcileInterval.milliseconds, launchTimeoutMilliseconds: launchTimeout.milliseconds)
        let hooks = EventHookDispatcher.Configuration.resolve(explicit: hooksDir, stateDirectory: context.stateDirectory, environment: env)
        return await Serve.main(
            context: context, configuration: configuration, eventHooks: hooks, metricsTextfile: metricsTextfile.map(StateDirectory.absolute))
    }
}
