import ArgumentParser
import Glibc
import MCRunCore

struct RuntimeStop: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop a ticket's runtime: signal, grace period, SIGKILL, kill leftovers, remove the session.",
        discussion: """
            Stopping a runtime that already ended is not an error and changes nothing. When the
            ledger cannot be written (a full disk, a read-only ledger, a lock held by another
            process) the agent is stopped all the same and the command exits 8 (stop_unrecorded),
            saying what was not recorded; the stop is recorded, as a stop, once the ledger can be
            written.

            EXAMPLES:
              mcrun stop T-42 --reason "superseded"
              mcrun stop T-42 --grace 30s --interrupt-key C-c
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Ticket id.")
    var ticket: String

    @Option(help: "Why it is stopped (recorded).")
    var reason: String = "requested"

    @Option(
        parsing: .unconditional, help: "How long the agent gets to exit before SIGKILL, 0s to 24h (e.g. 10s, 500ms; default 10s).",
        transform: Bounded.duration(Bounded.grace))
    var grace = DurationArgument(milliseconds: 10_000)

    @Option(help: "Signal sent first: TERM, INT, HUP or QUIT.")
    var signal: StopSignal = .term

    @Option(help: "A tmux key sent to the pane before the signal (e.g. C-c), for agents that exit on it.")
    var interruptKey: String?

    func execute() throws(MCRunError) -> Reply {
        let ticketID = try global.ticket(ticket)
        let context = try global.actingContext()
        let options = Stopper.Options(reason: reason, graceMilliseconds: grace.milliseconds, signal: signal.number, interruptKey: interruptKey)
        let outcome = try Stopper(context: context).stop(ticket: ticketID, options: options)
        let r = outcome.runtime
        let human =
            outcome.diedFirst
            ? "\(r.ticket) episode \(r.episode) had died before the stop (\(r.exitSignal.map { "killed by signal \($0)" } ?? r.exitCode.map { "exit code \($0)" } ?? "exit status unknown")); its death is now recorded"
            : outcome.alreadyEnded
                ? "\(r.ticket) episode \(r.episode) had already ended (\(r.state.rawValue)); nothing changed"
                : "stopped \(r.ticket) episode \(r.episode)\(r.exitSignal.map { ", agent killed by signal \($0)" } ?? r.exitCode.map { ", agent exited \($0)" } ?? ""); leftovers killed: \(r.leftoversKilled ?? 0)"
        return Reply(
            fields: [
                "runtime": RuntimeView.json(r), "already_ended": .bool(outcome.alreadyEnded), "died_first": .bool(outcome.diedFirst),
                "retry_cancelled": .bool(outcome.retryCancelled),
            ],
            human: human + (outcome.retryCancelled ? "; its pending relaunch was cancelled" : ""))
    }
}

enum StopSignal: String, ExpressibleByArgument, CaseIterable, Sendable {
    case term = "TERM"
    case int = "INT"
    case hup = "HUP"
    case quit = "QUIT"

    init?(argument: String) {
        let name = argument.uppercased()
        self.init(rawValue: name.hasPrefix("SIG") ? String(name.dropFirst(3)) : name)
    }

    var number: Int32 {
        switch self {
        case .term: SIGTERM
        case .int: SIGINT
        case .hup: SIGHUP
        case .quit: SIGQUIT
        }
    }
}
