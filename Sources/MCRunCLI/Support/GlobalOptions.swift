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

    public init() {}

    func context() throws(MCRunError) -> MCRunContext {
        let env = MCRunContext.processEnvironment()
        return try MCRunContext(stateDirectory: StateDirectory.resolve(explicit: stateDir, environment: env), environment: env, actor: actor)
    }

    func ticket(_ raw: String) throws(MCRunError) -> TicketID {
        try TicketID(validating: raw)
    }
}
