import ArgumentParser

/// `mcrun agent`: what an agent's own configuration calls (`report`) and what writes that
/// configuration (`setup`).
struct Agent: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Wire an agent to mcrun: the report its hooks call, and the setup that installs them.",
        subcommands: [AgentReport.self, AgentSetup.self])
}
