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
            WATCHDOG=1 only while supervision passes complete. SIGTERM exits once the relaunches
            and stops under way have finished (waiting at most 10 s) and leaves every agent
            running in mcrun's tmux server. Without systemd it starts that tmux server itself
            and logs to stderr. An option not given as a flag is taken from the configuration
            file (~/.config/mcrun/mcrun.conf, then /etc/mcrun/mcrun.conf), where each has the
            flag's name: reconcile-interval = 15s.

            EXAMPLES:
              mcrun serve
              mcrun serve --reconcile-interval 5s --retry-delay 1s
              mcrun serve --metrics-textfile /var/lib/prometheus/node-exporter/mcrun.prom
            """)

    @OptionGroup var global: GlobalOptions

    @Option(
        parsing: .unconditional, help: "Time between full reconcile passes, 50ms to 1h, default 15s (shortened to a quarter of the watchdog interval).",
        transform: Bounded.duration(Self.reconcileRange))
    var reconcileInterval: DurationArgument?

    @Option(
        parsing: .unconditional,
        help:
            "Unexpected deaths of a ticket that are relaunched silently before it escalates, 0 to 1000 (stored as the host's max-silent-retries setting, which every command that records a death uses; default 1).",
        transform: Bounded.integer(Self.maxSilentRetriesRange))
    var maxSilentRetries: Int?

    @Option(
        parsing: .unconditional, help: "Delay before a silent relaunch, 0s to 24h (stored as the host's retry-delay setting; default 2s).",
        transform: Bounded.duration(Self.retryDelayRange))
    var retryDelay: DurationArgument?

    @Option(
        parsing: .unconditional, help: "How long a relaunched agent gets to report its identity, 1ms to 1h (default 10s; a bare number is milliseconds).",
        transform: Bounded.duration(Bounded.launchTimeout, bare: .milliseconds))
    var launchTimeout: DurationArgument?

    @Option(help: "Event hooks folder (default: $MCRUN_EVENT_HOOKS_DIR, else hooks-dir in the configuration file, else STATE_DIR/event-hooks.d).")
    var hooksDir: String?

    static let reconcileRange = 50...DurationText.hour
    static let maxSilentRetriesRange = 0...1000
    static let retryDelayRange = 0...DurationText.day

    /// serve's options: each flag, else its key in the configuration files (checked against
    /// the flag's range), else the default. The event hooks folder here is only the
    /// configured one: the flag and the environment come first (see `serve()`).
    struct Options {
        var reconcileInterval: Int
        var maxSilentRetries: Int?
        var retryDelay: Int?
        var launchTimeout: Int
        var hooksDir: String?
    }

    func options(_ configuration: MCRunConfiguration) throws(MCRunError) -> Options {
        func configured<T>(_ key: String, _ parse: (String) throws -> T, _ expected: String) throws(MCRunError) -> T? {
            guard let (text, _) = configuration.value(key) else { return nil }
            guard let value = try? parse(text) else { throw configuration.invalid(key, expected) }
            return value
        }
        func duration(_ key: String, _ range: ClosedRange<Int>, bare: DurationText.BareUnit = .seconds) throws(MCRunError) -> Int? {
            try configured(key, Bounded.duration(range, bare: bare), DurationText.expectation(range, bare: bare))?.milliseconds
        }
        let retries = Self.maxSilentRetriesRange
        var options = Options(
            reconcileInterval: reconcileInterval?.milliseconds ?? 15_000, maxSilentRetries: maxSilentRetries,
            retryDelay: retryDelay?.milliseconds, launchTimeout: launchTimeout?.milliseconds ?? 10_000,
            hooksDir: configuration.value("hooks-dir")?.value)
        if reconcileInterval == nil, let value = try duration("reconcile-interval", Self.reconcileRange) { options.reconcileInterval = value }
        if maxSilentRetries == nil {
            options.maxSilentRetries = try configured(
                "max-silent-retries", Bounded.integer(retries), "a whole number from \(retries.lowerBound) to \(retries.upperBound)")
        }
        if retryDelay == nil { options.retryDelay = try duration("retry-delay", Self.retryDelayRange) }
        if launchTimeout == nil, let value = try duration("launch-timeout", Bounded.launchTimeout, bare: .milliseconds) { options.launchTimeout = value }
        return options
    }

    @Option(
        help:
            "After each pass, write `mcrun metrics` to this file (atomically), e.g. for node_exporter's textfile collector: /var/lib/prometheus/node-exporter/mcrun.prom."
    )
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
        let options: Options
        do {
            let files = try MCRunConfiguration.load(environment: env)
            options = try self.options(files)
            context = try global.context(actor: global.actor ?? "serve (pid \(getpid()))", configuration: files)
            // The death policy is the host's, kept in the ledger: the CLI records deaths with it too.
            if let count = options.maxSilentRetries {
                _ = try HostConfig.set(
                    .maxSilentRetries, String(count), ledger: context.ledger, actor: context.actor, source: maxSilentRetries == nil ? .file : .flag)
            }
            if let delay = options.retryDelay {
                _ = try HostConfig.set(.retryDelay, "\(delay)ms", ledger: context.ledger, actor: context.actor, source: retryDelay == nil ? .file : .flag)
            }
        } catch {
            return error
        }
        let configuration = SupervisorConfiguration(
            passIntervalMilliseconds: options.reconcileInterval, launchTimeoutMilliseconds: options.launchTimeout)
        // --hooks-dir, else $MCRUN_EVENT_HOOKS_DIR (resolve reads it), else hooks-dir of the files.
        let environmentHooks = env["MCRUN_EVENT_HOOKS_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        let explicitHooks = hooksDir ?? (environmentHooks == nil ? options.hooksDir : nil)
        let hooks = EventHookDispatcher.Configuration.resolve(explicit: explicitHooks, stateDirectory: context.stateDirectory, environment: env)
        return await Serve.main(
            context: context, configuration: configuration, eventHooks: hooks, metricsTextfile: metricsTextfile.map(StateDirectory.absolute))
    }
}
