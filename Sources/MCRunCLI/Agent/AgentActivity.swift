import ArgumentParser
import MCRunCore

struct AgentActivity: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "activity",
        abstract: "Report that the agent started (busy) or finished (idle) a turn, or waits for a person (waiting).",
        discussion: """
            The strict form of `mcrun agent report`, for scripts: it exits non-zero (2 without
            credentials, 6 for a report that is not the live episode's), which an agent's hook
            system may take as "block", so agent configurations call `mcrun agent report`.
            (`mcrun hook activity` is the earlier spelling and still works.) A waiting report
            (a permission prompt) makes send refuse to type (agent_waiting) until the next busy
            or idle report. The episode's credentials come from
            the environment the runtime was started with. Once an agent reports, its reports are
            the only busy signal for the episode. An idle report also delivers the oldest message
            queued with `send --queue`. A report that is not the live episode's (wrong nonce,
            stale episode, parked ticket, ended runtime) changes nothing and exits 6 with that reason.

            EXAMPLES:
              mcrun activity busy
              mcrun activity idle
              mcrun activity waiting
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "busy, idle or waiting (for a person: a permission prompt).")
    var report: Report

    @Option(help: "Ticket (default: $MCRUN_TICKET).")
    var ticket: String?

    @Option(parsing: .unconditional, help: "Episode (default: $MCRUN_EPISODE).", transform: Bounded.integer(Bounded.episode))
    var episode: Int?

    @Option(help: "The episode's nonce (default: $MCRUN_NONCE).")
    var nonce: String?

    enum Report: String, ExpressibleByArgument, CaseIterable, Sendable {
        case busy, idle, waiting
    }

    func execute() throws(MCRunError) -> Reply {
        let env = MCRunContext.processEnvironment()
        var merged = env
        if let ticket { merged["MCRUN_TICKET"] = ticket }
        if let episode { merged["MCRUN_EPISODE"] = String(episode) }
        if let nonce { merged["MCRUN_NONCE"] = nonce }
        let credentials = try EpisodeCredentials.fromEnvironment(merged)
        let context = try global.context()
        let recorded = try Activity.record(Activity.Report(rawValue: report.rawValue)!, credentials: credentials, ledger: context.ledger, actor: context.actor)
        var delivered: Int64?
        if report == .idle {
            delivered = try Sender(context: context).deliverNext(runtimeID: recorded.id!)
        }
        return Reply(
            fields: [
                "ticket": .string(recorded.ticket), "episode": .int(Int64(recorded.episode)), "busy": .bool(report != .idle),
                "waiting": .bool(report == .waiting), "delivered_queue_id": JSONValue(delivered),
            ],
            human: "\(recorded.ticket) episode \(recorded.episode): \(report.rawValue)\(delivered.map { "; delivered queued message \($0)" } ?? "")")
    }
}
