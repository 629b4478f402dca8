public import ArgumentParser
import MCRunCore

/// Flags every command takes.
public struct GlobalOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: "State directory (default: $MCRUN_STATE_DIR, systemd's $STATE_DIRECTORY, else $XDG_STATE_HOME/mcrun or ~/.local/state/mcrun).")
    public var stateDir: String?

    @Flag(name: .long, help: "Print exactly one JSON object (JSON lines for streams) with ok, code and reason.")
    public var json = false

    @Option(name: .long, help: "Who is acting, recorded on every event (default: $MCRUN_ACTOR, else the user and pid).")
    public var actor: String?

    @Flag(name: .long, help: "With a command that writes (e.g. config): start an empty ledger in a state directory whose ledger was lost. Runtimes, parked tickets, the kill switch and settings recorded in the lost one are gone; restore a backup instead if there is one.")
    public var recreateLedger = false

    public init() {}

    /// For commands that write.
    func context() throws(MCRunError) -> MCRunContext {
        let env = MCRunContext.processEnvironment()
        return try MCRunContext(stateDirectory: stateDirectory(env), environment: env, actor: actor, recreateLedger: recreateLedger)
    }

    /// For commands that only read: nothing is created, locked or migrated.
    func readContext() throws(MCRunError) -> MCRunContext {
        if recreateLedger {
            throw .badInput("read_only_command", "--recreate-ledger needs a command that writes; use: mcrun config --recreate-ledger")
        }
        let env = MCRunContext.processEnvironment()
        return try MCRunContext(readingFrom: stateDirectory(env), environment: env, actor: actor)
    }

    /// The state directory every command uses, found without creating or opening anything.
    func stateDirectory(_ env: [String: String] = MCRunContext.processEnvironment()) -> StateDirectory {
        StateDirectory.resolve(explicit: stateDir, environment: env)
    }

    func ticket(_ raw: String) throws(MCRunError) -> TicketID {
        try TicketID(validating: raw)
    }
}
