import ArgumentParser
import MCRunCore

struct HostBreakerCommand: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "breaker",
        abstract: "Show or close the host breaker that holds starts and relaunches after agents of several tickets died right after starting.",
        discussion: """
            The breaker opens when agents of breaker-tickets tickets die within
            breaker-fast-death of starting, inside breaker-window (mcrun config). While
            open, start and owed relaunches exit 5 (breaker_open) with the evidence, and
            those fast deaths are not counted against their tickets. After
            breaker-cooldown the next launch is a probe: a probe that outlives
            breaker-fast-death closes the breaker, one that dies fast keeps it open for
            another cool-down. close closes it now; held relaunches then go.

            EXAMPLES:
              mcrun breaker status
              mcrun breaker close --reason "quota raised"
            """)

    enum Action: String, ExpressibleByArgument, CaseIterable, Sendable {
        case status, close
    }

    @OptionGroup var global: GlobalOptions

    @Argument(help: "status or close.")
    var action: Action = .status

    @Option(help: "Why it is closed (recorded on the event).")
    var reason: String?

    func execute() throws(MCRunError) -> Reply {
        let context = try global.context()
        switch action {
        case .status:
            guard let (incident, evidence) = try context.ledger.breakerStatus(actor: context.actor) else {
                return Reply(fields: ["open": false, "incident": .null, "evidence": .array([])], human: "host breaker is closed")
            }
            var lines = [incident.summary()]
            for item in evidence.arrayValue ?? [] {
                let fields = item.objectValue ?? [:]
                let status =
                    fields["exit_signal"]?.intValue.map { "killed by signal \($0)" } ?? fields["exit_code"]?.intValue.map { "exit code \($0)" }
                    ?? "exit status unknown"
                lines.append("  \(fields["ticket"]?.stringValue ?? "?"): \(status)")
                for line in fields["last_lines"]?.arrayValue ?? [] { lines.append("    | \(line.stringValue ?? "")") }
            }
            return Reply(fields: ["open": true, "incident": incident.json, "evidence": evidence], human: lines.joined(separator: "\n"))
        case .close:
            let closed = try context.ledger.closeBreaker(actor: context.actor, reason: reason)
            // Relaunches held by the breaker may go now: tell serve rather than wait a pass.
            if closed != nil { ServiceNudge.send(context.stateDirectory) }
            return Reply(
                fields: ["open": false, "changed": .bool(closed != nil), "incident": closed?.json ?? .null],
                human: closed == nil ? "host breaker is closed; nothing changed" : "host breaker closed")
        }
    }
}
