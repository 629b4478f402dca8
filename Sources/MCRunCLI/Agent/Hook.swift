import ArgumentParser

/// The earlier spelling of `mcrun activity` (`mcrun hook activity busy|idle`), kept so
/// agent configurations written for it keep working; not listed in help.
struct LegacyHook: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hook",
        abstract: "Earlier spelling of `mcrun activity`.",
        shouldDisplay: false,
        subcommands: [AgentActivity.self])
}
