import ArgumentParser
import MCRunCore

struct RuntimeStart: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start a ticket's agent in its own tmux session; returns once its identity is recorded.",
        discussion: """
            The pane runs the command directly (no shell). A ticket with a live runtime answers
            409 busy (exit 4) with that runtime; take it over with `mcrun adopt`.

            EXAMPLES:
              mcrun start T-42 --owner dispatcher -- claude --dangerously-skip-permissions
              mcrun start T-42 --cwd ~/src/app --env API=dev -- aider --yes
              mcrun start T-42 --adopt --owner dispatcher --json -- codex
              mcrun start T-42 --resume-argv 'claude --resume {session_id}' -- claude "Fix the parser"
              mcrun start T-42 --memory-max 4G --pids-max 512 -- claude
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Ticket id: 1-64 letters, digits, '-' or '_'.")
    var ticket: String

    @Option(help: "Who the runtime belongs to (checked by adopt).")
    var owner: String?

    @Option(help: "Working directory of the agent (default: the current directory).")
    var cwd: String?

    @Option(name: .customLong("env"), help: "Extra environment for the agent, KEY=VALUE (repeatable).")
    var envPairs: [String] = []

    @Flag(help: "If the ticket already has a live runtime, adopt it (as `mcrun adopt --owner OWNER`) instead of answering 409.")
    var adopt = false

    @Flag(help: "Start an escalated ticket without resetting it first (recorded on the launch event).")
    var force = false

    @Option(
        parsing: .unconditional,
        help: "How long to wait for the agent's identity before the launch fails, 1ms to 1h (default 10s; a bare number is milliseconds).",
        transform: Bounded.duration(Bounded.launchTimeout, bare: .milliseconds))
    var timeout = DurationArgument(milliseconds: 10_000)

    @Option(
        help: ArgumentHelp(
            "The agent the command runs: claude-code, codex, aider, or none (default: from the command's name: claude, codex, aider). Chooses how its activity is read.",
            valueName: "agent"))
    var agent: String?

    @Option(
        help: ArgumentHelp(
            "The argv that resumes the agent's own session on a relaunch, {session_id} standing for the id its hooks recorded: words separated by spaces, or a JSON array of strings; no shell. Used only when the dead episode recorded a session.",
            valueName: "template"))
    var resumeArgv: String?

    @Option(
        parsing: .unconditional,
        help:
            "Memory limit of the runtime's cgroup, e.g. 4G (default: mcrun config memory-max). Over it, the kernel's OOM killer ends the agent and out of memory is the recorded cause.",
        transform: Bounded.size())
    var memoryMax: Int64?

    @Option(
        parsing: .unconditional, help: "CPU weight of the runtime's cgroup, 1-10000; 100 is an even share (default: mcrun config cpu-weight).",
        transform: Bounded.integer(ResourceLimits.cpuWeightRange))
    var cpuWeight: Int?

    @Option(
        parsing: .unconditional, help: "Task limit of the runtime's cgroup (default: mcrun config pids-max).",
        transform: Bounded.integer(ResourceLimits.pidsMaxRange))
    var pidsMax: Int?

    @Argument(parsing: .postTerminator, help: "The agent's command and arguments, after --.")
    var command: [String] = []

    /// Variables of a surrounding mcrun runtime must not leak into a new one: the nonce
    /// names which processes belong to which runtime.
    static let inheritedExclusions: Set<String> = ["MCRUN_TICKET", "MCRUN_EPISODE", "MCRUN_NONCE", "MCRUN_RUNTIME_ID", "TMUX", "TMUX_PANE"]

    func execute() throws(MCRunError) -> Reply {
        let ticketID = try global.ticket(ticket)
        guard !command.isEmpty else { throw .badInput("no_command", "no command given; use: mcrun start \(ticket) -- COMMAND [ARGS...]") }
        let kind: AgentKind?
        switch agent {
        case nil: kind = AgentKind.derive(argv: command)
        case "none": kind = nil
        case let name?:
            guard let named = AgentKind(rawValue: name) else {
                throw .badInput("bad_agent", "--agent \(name.debugDescription) is not one of claude-code, codex, aider, none")
            }
            kind = named
        }
        var resume: [String]?
        if let resumeArgv {
            guard let parsed = ResumeTemplate.parse(resumeArgv) else {
                throw .badInput(
                    "bad_resume_argv",
                    "--resume-argv \(resumeArgv.debugDescription) is not an argv: give words separated by spaces or a JSON array of strings, with {session_id} as the only placeholder"
                )
            }
            resume = parsed
        }
        var env = MCRunContext.processEnvironment().filter { !Self.inheritedExclusions.contains($0.key) }
        for pair in envPairs {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw .badInput("bad_env", "--env \(pair.debugDescription) is not KEY=VALUE")
            }
            env[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        }
        let directory = cwd.map(StateDirectory.absolute) ?? StateDirectory.currentDirectory()
        // Found now, not at the relaunch after a death, when nobody is there to fix it.
        if let program = resume?.first, Executable.resolve(program, path: env["PATH"], cwd: directory) == nil {
            throw .badInput("command_not_found", "the --resume-argv command \(program.debugDescription) was not found in PATH or is not executable")
        }
        let context: MCRunContext
        do {
            context = try global.context()
        } catch  where error.code == .internalError {
            // A ledger that cannot even be opened cannot count live runtimes: fail closed.
            throw MCRunError(
                .refused, "capacity_unknown",
                "start refused: the number of live runtimes cannot be determined, the ledger cannot be opened; nothing was started", cause: error)
        }
        let request = LaunchRequest(
            ticket: ticketID, argv: command, cwd: directory, env: env, owner: owner, timeoutMilliseconds: timeout.milliseconds, force: force,
            agent: kind, resumeArgv: resume,
            limits: ResourceLimits(memoryMax: memoryMax, cpuWeight: cpuWeight, pidsMax: pidsMax))
        let runtime: Runtime
        do {
            runtime = try Launcher(context: context).start(request)
        } catch  where error.code == .busy && adopt && error.reason == "busy" {
            return RuntimeAdopt.reply(try Adopter(context: context).adopt(.init(ticket: ticketID, owner: owner, force: force)))
        }
        if let missing = runtime.paneLogMissing {
            Output.write("mcrun: warning: \(runtime.ticket) runs without a pane log: \(missing)\n", to: 2)
        }
        return Reply(
            status: 201, fields: ["runtime": RuntimeView.json(runtime)],
            human: "started \(runtime.ticket) episode \(runtime.episode): pid \(runtime.pid ?? 0), session \(runtime.sessionName)")
    }

}
