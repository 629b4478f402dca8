import ArgumentParser
import MCRunCore

struct RuntimeSignal: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "signal",
        abstract: "Report DONE, REVIEW or QUESTION from inside a runtime (an agent's hook or tool call).",
        discussion: """
            The ticket, episode and nonce come from MCRUN_TICKET, MCRUN_EPISODE and MCRUN_NONCE,
            which only that episode's environment holds (or --ticket/--episode/--nonce). The signal
            is stored first, then judged: accepted only from the ticket's current, running episode
            with the right nonce; otherwise quarantined with a reason (stale_episode, ticket_parked,
            runtime_ended, bad_nonce, unknown_episode) and the command exits 6 (declined) with that
            reason. An accepted DONE makes the runtime's exit a completion, not a death.
            Bad JSON in --payload exits 2 and stores nothing.

            EXAMPLES:
              mcrun signal DONE --summary 'tests pass, PR opened'
              mcrun signal QUESTION --payload '{"question": "which branch?"}'
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "DONE, REVIEW or QUESTION.")
    var kind: String

    @Option(help: "A JSON value to carry with the signal (what was done, where the result is).")
    var payload: String?

    @Option(help: "A one-line summary; stored as {\"summary\": TEXT}.")
    var summary: String?

    @Option(help: "Ticket id (default: $MCRUN_TICKET).")
    var ticket: String?

    @Option(parsing: .unconditional, help: "Episode (default: $MCRUN_EPISODE).", transform: Bounded.integer(Bounded.episode))
    var episode: Int?

    @Option(help: "The episode's nonce (default: $MCRUN_NONCE; prefer the environment, argv is visible to other users).")
    var nonce: String?

    func execute() throws(MCRunError) -> Reply {
        guard let kind = SignalKind(rawValue: kind.uppercased()) else {
            throw .badInput("bad_signal", "unknown signal \(TicketIDText.quote(self.kind)); use DONE, REVIEW or QUESTION")
        }
        if payload != nil && summary != nil { throw .badInput("bad_payload", "give --payload or --summary, not both") }
        var body: JSONValue = [:]
        if let payload {
            guard payload.utf8.count <= CompletionSignals.maxPayloadBytes else {
                throw .badInput("bad_payload", "--payload is larger than \(CompletionSignals.maxPayloadBytes) bytes")
            }
            guard let parsed = JSONValue.parse(payload) else {
                throw .badInput("bad_payload", "--payload is not valid JSON; nothing was stored")
            }
            body = parsed
        } else if let summary {
            guard summary.utf8.count <= CompletionSignals.maxPayloadBytes else {
                throw .badInput("bad_payload", "--summary is longer than \(CompletionSignals.maxPayloadBytes) bytes")
            }
            body = ["summary": .string(summary)]
        }
        let credentials: EpisodeCredentials
        if ticket != nil || episode != nil || nonce != nil {
            guard let ticket, let episode, let nonce else {
                throw .badInput("no_episode", "--ticket, --episode and --nonce go together")
            }
            credentials = EpisodeCredentials(ticket: try global.ticket(ticket), episode: episode, nonce: nonce)
        } else {
            credentials = try EpisodeCredentials.fromEnvironment(MCRunContext.processEnvironment())
        }
        let context = try global.context()
        let signal = try CompletionSignals.submit(context.ledger, credentials: credentials, kind: kind, payload: body, actor: context.actor)
        guard signal.state == .accepted else {
            let reason = signal.reason ?? "quarantined"
            throw MCRunError(
                .declined, reason,
                "\(kind.rawValue) from \(credentials.ticket) episode \(credentials.episode) was quarantined (\(reason)) as signal \(signal.id ?? 0): \(Self.explain(reason))"
            )
        }
        return Reply(
            status: 202, fields: ["signal": signal.json, "accepted": true],
            human: "\(kind.rawValue) accepted for \(signal.ticket) episode \(signal.episode) (signal \(signal.id ?? 0))")
    }

    static func explain(_ reason: String) -> String {
        switch reason {
        case "stale_episode": "a newer episode of the ticket has started; only its own signals count"
        case "ticket_parked": "the ticket is parked; nothing it reports is accepted until it is unparked and started again"
        case "runtime_ended": "this episode is no longer running"
        case "bad_nonce": "the nonce is not this episode's; signals must come from inside the runtime"
        case "unknown_episode": "the ledger has no such episode of this ticket"
        default: "see: mcrun events --ticket TICKET"
        }
    }
}

enum TicketIDText {
    static func quote(_ s: String) -> String { s.count > 40 ? String(s.prefix(40)).debugDescription + "..." : s.debugDescription }
}
