import ArgumentParser
import MCRunCore

struct EventList: MCRunStreamingCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print the ledger's events as JSON lines, by cursor; --follow keeps streaming new ones.",
        discussion: """
            One JSON object per line: id, at, kind, ticket, runtime_id, episode, from, to, actor,
            reason, data (the same object event hooks receive on stdin). Resume after a restart with
            --since LAST_ID. --follow polls the ledger every 150 ms and exits 0 on Ctrl-C, SIGTERM
            or when the reader goes away.

            EXAMPLES:
              mcrun events --since 1200
              mcrun events --follow --kind death
              mcrun events --ticket T-42
            """)

    @OptionGroup var global: GlobalOptions

    @Option(parsing: .unconditional, help: "Only events after this id (default 0: from the first).", transform: Bounded.integer(Bounded.eventID))
    var since: Int64 = 0

    @Flag(help: "Keep streaming new events.")
    var follow = false

    @Option(help: "Only this ticket's events.")
    var ticket: String?

    @Option(help: "Only events of this kind (repeatable).")
    var kind: [String] = []

    func execute() throws(MCRunError) {
        let ticketID = try ticket.map { (t: String) throws(MCRunError) in try global.ticket(t) }
        var context = try global.readContext()
        Streaming.prepare()
        var cursor = since
        while true {
            // Following a state directory that has no ledger yet: the first command that
            // writes creates it, and the events are read from there on.
            if context.ledger.isStandIn, let created = try? global.readContext(), !created.ledger.isStandIn {
                context = created
            }
            let batch = try context.ledger.events(after: cursor, ticket: ticketID?.rawValue, kinds: kind, limit: 500)
            for event in batch {
                guard Streaming.writeLine(event.json) else { return }
                cursor = event.id ?? cursor
            }
            if batch.count == 500 { continue }
            guard follow, Streaming.pause(milliseconds: 150) else { return }
        }
    }
}
