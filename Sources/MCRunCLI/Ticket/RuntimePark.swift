import ArgumentParser
import MCRunCore

struct RuntimePark: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "park",
        abstract: "Park a ticket: mark it parked and stop its runtime, atomically with respect to start and adopt.",
        discussion: """
            The parked flag and the stop request are one transaction: from then on start and adopt
            exit 5 (ticket_parked) and the episode's reports are quarantined. The runtime is then
            stopped like `mcrun stop` (signal, grace, SIGKILL, leftovers killed). A ticket with no
            runtime, or an unknown one, is parked all the same. Works with the kill switch on.
            When the ledger cannot be written the agent is stopped all the same, the ticket is
            held, and the command exits 8 (park_unrecorded); the park is recorded later.

            EXAMPLES:
              mcrun park T-42 --reason "waiting for review"
              mcrun park T-42 --grace 30s --json
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Ticket id.")
    var ticket: String

    @Option(help: "Why it is parked (recorded on the ticket and the event).")
    var reason: String?

    @Option(
        parsing: .unconditional, help: "How long the agent gets to exit before SIGKILL, 0s to 24h (e.g. 10s, 500ms; default 10s).",
        transform: Bounded.duration(Bounded.grace))
    var grace = DurationArgument(milliseconds: 10_000)

    @Option(help: "Signal sent first: TERM, INT, HUP or QUIT.")
    var signal: StopSignal = .term

    @Option(help: "A tmux key sent to the pane before the signal (e.g. C-c).")
    var interruptKey: String?

    func execute() throws(MCRunError) -> Reply {
        let ticketID = try global.ticket(ticket)
        let context = try global.actingContext()
        let options = Stopper.Options(reason: "parked", graceMilliseconds: grace.milliseconds, signal: signal.number, interruptKey: interruptKey)
        let outcome = try Parker(context: context).park(ticket: ticketID, reason: reason, options: options)
        var human = outcome.alreadyParked ? "\(ticketID) was already parked; nothing was running" : "parked \(ticketID)"
        if let r = outcome.stopped {
            human +=
                "; stopped episode \(r.episode)\(r.exitSignal.map { ", agent killed by signal \($0)" } ?? r.exitCode.map { ", agent exited \($0)" } ?? ""); leftovers killed: \(r.leftoversKilled ?? 0)"
        } else if !outcome.alreadyParked {
            human += "; nothing was running"
        }
        return Reply(
            fields: [
                "ticket": .string(ticketID.rawValue), "parked": true, "already_parked": .bool(outcome.alreadyParked),
                "runtime": outcome.stopped.map { RuntimeView.json($0) } ?? .null,
            ],
            human: human)
    }
}
