import ArgumentParser

/// `mcrun agent`: what an agent's own configuration calls (`report`) and what writes that
/// configuration (`setup`).
struct Agent: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Wire an agent to mcrun: the report its hooks call, and the setup that installs them.",
        discussion: """
            See docs/agents.md for running an agent under mcrun end to end.

            EXAMPLES:
              mcrun agent setup claude-code --project .
              mcrun agent setup codex --user
              mcrun agent setup aider --project .
              mcrun agent report
            """,
        subcommands: [AgentReport.self, AgentSetup.self])
}
