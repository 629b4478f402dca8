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
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "Time between full reconcile passes (shortened to a quarter of the watchdog interval).")
    var reconcileInterval = DurationArgument(milliseconds: 15_000)

    @Option(help: "Unexpected deaths of a ticket that are relaunched silently before it escalates (stored as the host's max-silent-retries setting, which every command that records a death uses; default 1).")
    var maxSilentRetries: Int?

    @Option(help: "Delay before a silent relaunch (stored as the host's retry-delay setting; default 2s).")
    var retryDelay: DurationArgument?

    @Option(help: "Milliseconds a relaunched agent gets to report its identity.")
    var launchTimeout = 10_000

    @Option(help: "Event hooks folder (default: $MCRUN_EVENT_HOOKS_DIR, else STATE_DIR/event-hooks.d).")
    var hooksDir: String?

    func validate() throws {
        guard reconcileInterval.milliseconds >= 50 else { throw ValidationError("--reconcile-interval must be at least 50ms") }
        if let maxSilentRetries, maxSilentRetries < 0 || maxSilentRetries > 1000 {
            throw ValidationError("--max-silent-retries must be from 0 to 1000")
        }
        guard launchTimeout > 0 else { throw ValidationError("--launch-timeout must be positive") }
    }

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
            if let maxSilentRetries { _ = try HostConfig.set(.maxSilentRetries, String(maxSilentRetries), ledger: context.ledger, actor: context.actor) }
            if let retryDelay { _ = try HostConfig.set(.retryDelay, "\(retryDelay.milliseconds)ms", ledger: context.ledger, actor: context.actor) }
        } catch {
            return error
        }
        let configuration = SupervisorConfiguration(
            passIntervalMilliseconds: reconcileInterval.milliseconds, launchTimeoutMilliseconds: launchTimeout)
        let hooks = EventHookDispatcher.Configuration.resolve(explicit: hooksDir, stateDirectory: context.stateDirectory, environment: env)
        return await Serve.main(context: context, configuration: configuration, eventHooks: hooks)
    }
}
