import ArgumentParser

/// Commands an agent's own hook system runs from inside its runtime.
struct Hook: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hook",
        abstract: "Reports an agent makes about itself from inside its runtime (uses MCRUN_TICKET, MCRUN_EPISODE, MCRUN_NONCE).",
        subcommands: [HookActivity.self])
}
