import ArgumentParser

/// The earlier spelling of `mcrun activity` (`mcrun hook activity busy|idle`), kept so
/// agent configurations written for it keep working; not listed in help.
struct LegacyHook: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hook",
        abstract: "Earlier spelling of `mcrun activity`.",
        discussion: """
            EXAMPLES:
              mcrun hook activity busy          (prefer: mcrun activity busy)
            """,
        shouldDisplay: false,
        subcommands: [AgentActivity.self])
}
