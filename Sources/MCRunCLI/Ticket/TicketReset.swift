import ArgumentParser
import MCRunCore
import MCRunService

struct TicketReset: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset",
        abstract: "Clear a ticket's death count and escalation, so the next death is retried again.",
        discussion: """
            Works with or without `mcrun serve` running. A relaunch still owed to the ticket is
            cancelled.

            EXAMPLES:
              mcrun reset T-42
              mcrun reset T-42 --reason "fixed the flaky test"
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Ticket id.")
    var ticket: String

    @Option(help: "Why (recorded on the reset event).")
    var reason: String?

    func execute() throws(MCRunError) -> Reply {
        let ticketID = try global.ticket(ticket)
        let context = try global.context()
        let result = try context.ledger.resetTicket(ticketID.rawValue, actor: context.actor, reason: reason)
        return Reply(
            fields: [
                "ticket": .string(ticketID.rawValue), "previous_deaths": .int(Int64(result.previousDeaths)),
                "was_escalated": .bool(result.wasEscalated), "cancelled_retry": .bool(result.retryCancelled),
            ],
            human:
                "reset \(ticketID): deaths \(result.previousDeaths) -> 0\(result.wasEscalated ? ", escalation cleared" : "")\(result.retryCancelled ? ", pending relaunch cancelled" : "")"
        )
    }
}
