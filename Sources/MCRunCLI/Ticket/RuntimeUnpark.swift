import ArgumentParser
import MCRunCore

struct RuntimeUnpark: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "unpark",
        abstract: "Clear a ticket's parked flag so it can be started again (starts nothing itself).",
        discussion: """
            EXAMPLES:
              mcrun unpark T-42
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Ticket id.")
    var ticket: String

    @Option(help: "Why it is unparked (recorded).")
    var reason: String?

    func execute() throws(MCRunError) -> Reply {
        let ticketID = try global.ticket(ticket)
        let context = try global.context()
        let (_, changed) = try Parker(context: context).unpark(ticket: ticketID, reason: reason)
        return Reply(
            fields: ["ticket": .string(ticketID.rawValue), "parked": false, "changed": .bool(changed)],
            human: changed ? "unparked \(ticketID)" : "\(ticketID) was not parked; nothing changed")
    }
}
