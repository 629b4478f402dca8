import ArgumentParser
import Glibc
import MCRunCore

struct RuntimeAttach: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "attach",
        abstract: "Watch a ticket's live agent in its tmux session: read-only unless --rw.",
        discussion: """
            Replaces mcrun with `tmux attach-session` on mcrun's own tmux server.
            Read-only (`attach -r`: keys do nothing but detach, and the watcher's terminal
            size does not resize the agent's pane) unless --rw. Detach with the tmux
            prefix then d (C-b d). Needs a terminal on stdin (exit 2 otherwise); --print
            only prints the tmux command. Exit 3 when the ticket is unknown (no_ticket) or
            has no live runtime (no_live_runtime).

            EXAMPLES:
              mcrun attach T-42              watch T-42's agent, read-only
              mcrun attach T-42 --rw         type into it (as if you were the dispatcher)
              mcrun attach T-42 --print      print the tmux command instead of running it
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Ticket id.")
    var ticket: String

    @Flag(help: "Attach read-write: your keys reach the agent.")
    var rw = false

    @Flag(help: "Print the tmux command (one argument per line with --json) instead of running it; needs no terminal.")
    var print = false

    func execute() throws(MCRunError) -> Reply {
        let ticketID = try global.ticket(ticket)
        let context = try global.readContext()
        guard let history = try context.ledger.ticketHistory(ticketID.rawValue, eventLimit: 0) else {
            throw MCRunError(.notFound, "no_ticket", "ticket \(ticketID) is not known; see: mcrun ps --all")
        }
        guard let runtime = history.episodes.first, runtime.state.isLive else {
            let last = history.episodes.first.map { "; its last episode \($0.episode) is \($0.state.rawValue) (see: mcrun harvest \(ticketID))" } ?? ""
            throw MCRunError(.notFound, "no_live_runtime", "ticket \(ticketID) has no live runtime to attach to\(last)")
        }
        let argv = Self.argv(context.tmux, session: runtime.sessionName, readOnly: !rw)
        if print {
            return Reply(
                fields: ["argv": JSONValue(argv), "session": .string(runtime.sessionName), "read_only": .bool(!rw)],
                human: argv.map(MCRun.shellWord).joined(separator: " "))
        }
        guard isatty(0) == 1 else {
            throw .badInput(
                "no_terminal",
                "mcrun attach needs a terminal on stdin; run it from an interactive shell (or see the command with: mcrun attach \(ticketID) --print)")
        }
        // tmux refuses to attach from inside another tmux client while $TMUX is set.
        let environment = MCRunContext.processEnvironment().filter { $0.key != "TMUX" && $0.key != "TMUX_PANE" }
        guard let program = Executable.resolve(argv[0], path: environment["PATH"], cwd: StateDirectory.currentDirectory()) else {
            throw .internalError("\(argv[0]): command not found; install tmux")
        }
        let failure = Executable.replaceProcess(with: program, argv: argv, environment: environment)
        throw .internalError("cannot execute \(program): \(failure)")
    }

    /// `tmux -S SOCKET attach-session -t =SESSION [-r]`: the exact session, never a prefix match.
    static func argv(_ tmux: TmuxServer, session: String, readOnly: Bool) -> [String] {
        [tmux.binary, "-S", tmux.socketPath, "attach-session", "-t", TmuxServer.exact(session)] + (readOnly ? ["-r"] : [])
    }
}
