import ArgumentParser
import MCRunCore

struct RuntimeAdopt: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "adopt",
        abstract: "Take over a ticket's live runtime (the answer to a 409 from start): confirm it, record the owner, return it.",
        discussion: """
            Adopts only a runtime that is running and whose agent is alive by its identity; never
            revives a dead one. Exit 0 adopted; 3 no runtime; 5 kill switch, ticket_parked or
            liveness_unknown; 6 declined: agent_dead, owner_mismatch (use --force), not_adoptable
            (launching, stopping or ended).

            EXAMPLES:
              mcrun adopt T-42 --owner dispatcher
              mcrun adopt T-42 --owner dispatcher --force
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Ticket id.")
    var ticket: String

    @Option(help: "The owner taking the runtime over; must match the runtime's owner unless --force.")
    var owner: String?

    @Flag(help: "Take the runtime over even if another owner holds it.")
    var force = false

    func execute() throws(MCRunError) -> Reply {
        let ticketID = try global.ticket(ticket)
        let context = try global.context()
        let runtime = try Adopter(context: context).adopt(.init(ticket: ticketID, owner: owner, force: force))
        return Self.reply(runtime)
    }

    static func reply(_ runtime: Runtime) -> Reply {
        Reply(
            fields: ["runtime": RuntimeView.json(runtime), "adopted": true],
            human:
                "adopted \(runtime.ticket) episode \(runtime.episode): pid \(runtime.pid ?? 0), session \(runtime.sessionName), owner \(runtime.owner ?? "-")")
    }
}
