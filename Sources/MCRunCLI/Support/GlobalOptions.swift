public import ArgumentParser
import MCRunCore

/// Flags every command takes.
public struct GlobalOptions: ParsableArguments, Sendable {
    @Option(
        name: .long,
        help:
            "State directory (default: $MCRUN_STATE_DIR, else state-dir in ~/.config/mcrun/mcrun.conf or /etc/mcrun/mcrun.conf, else systemd's $STATE_DIRECTORY, $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun)."
    )
    public var stateDir: String?

    @Flag(name: .long, help: "Print exactly one JSON object (JSON lines for streams) with ok, code and reason.")
    public var json = false

    @Option(name: .long, help: "Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).")
    public var actor: String?

    @Flag(
        name: .long,
        help:
            "With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one."
    )
    public var recreateLedger = false

    public init() {}

    /// For commands that write.
    func context(actor given: String? = nil, configuration loaded: MCRunConfiguration? = nil) throws(MCRunError) -> MCRunContext {
        let env = MCRunContext.processEnvironment()
        let directory = try stateDirectory(env, configuration: loaded)
        return try MCRunContext(stateDirectory: directory, environment: env, actor: given ?? actor, recreateLedger: recreateLedger)
    }

    /// For `stop`, `park` and `killswitch on`, which act even when the ledger cannot be
    /// written: the writing context, or, when the ledger cannot be opened for writing (an
    /// immutable file, a full disk), a reading one. They then act all the same and exit 8
    /// saying what the ledger could not record.
    func actingContext() throws(MCRunError) -> MCRunContext {
        do throws(MCRunError) {
            return try context()
        } catch  where error.ledgerUnwritable {
            let env = MCRunContext.processEnvironment()
            do {
                return try MCRunContext(readingFrom: stateDirectory(env, configuration: nil), environment: env, actor: actor)
            } catch _ {
                throw error
            }
        }
    }

    /// For commands that only read: nothing is created, locked or migrated. Members of the
    /// state directory's group may read another user's directory this way.
    func readContext() throws(MCRunError) -> MCRunContext {
        if recreateLedger {
            throw .badInput("read_only_command", "--recreate-ledger needs a command that writes; use: mcrun config --recreate-ledger")
        }
        let env = MCRunContext.processEnvironment()
        return try MCRunContext(readingFrom: stateDirectory(env, configuration: nil), environment: env, actor: actor)
    }

    /// The state directory as the service finds it: the flag, the environment, the
    /// configuration files (see `StateDirectory.resolve`).
    func stateDirectory(
        _ env: [String: String] = MCRunContext.processEnvironment(), configuration loaded: MCRunConfiguration? = nil
    ) throws(MCRunError) -> StateDirectory {
        let configuration: MCRunConfiguration
        if let loaded { configuration = loaded } else { configuration = try MCRunConfiguration.load(environment: env) }
        return StateDirectory.resolve(explicit: stateDir, environment: env, configuration: configuration)
    }

    func ticket(_ raw: String) throws(MCRunError) -> TicketID {
        try TicketID(validating: raw)
    }
}
