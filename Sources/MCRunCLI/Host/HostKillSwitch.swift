import ArgumentParser
import MCRunCore

struct HostKillSwitch: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "killswitch",
        abstract: "Stop all automatic action on this host: while on, start, adopt, send and relaunches exit 5 (killswitch).",
        discussion: """
            ps, show, logs, stop and park keep working. The switch lives in the ledger, so it holds for
            every process and survives restarts. Turned on while the ledger cannot be written, it is
            held in the state directory and refuses all the same; exit 8 (killswitch_unrecorded).

            EXAMPLES:
              mcrun killswitch on --reason "incident 42"
              mcrun killswitch status
              mcrun killswitch off
            """)

    enum Action: String, ExpressibleByArgument, CaseIterable, Sendable {
        case on, off, status
    }

    @OptionGroup var global: GlobalOptions

    @Argument(help: "on, off or status.")
    var action: Action

    @Option(help: "Why (recorded on the event; shown in every refusal while on).")
    var reason: String?

    func execute() throws(MCRunError) -> Reply {
        let context = try action == .off ? global.context() : global.actingContext()
        let state: KillSwitch.State
        var changed = false
        switch action {
        case .status:
            state = try context.ledger.killSwitchState()
        case .on, .off:
            (state, changed) = try KillSwitch.set(action == .on, reason: reason, ledger: context.ledger, actor: context.actor)
            // Relaunches held back by the switch may go now: tell serve rather than wait a pass.
            if changed && action == .off { ServiceNudge.send(context.stateDirectory) }
        }
        let held = state.unrecorded ? "; held in the state directory's reserve until the ledger can record it" : ""
        let human = state.on ? "kill switch is ON (\(state.reason ?? "-"))\(held)" : "kill switch is off"
        return Reply(
            fields: [
                "killswitch": .bool(state.on), "reason": JSONValue(state.reason), "since": JSONValue(state.since), "changed": .bool(changed),
                "unrecorded": .bool(state.unrecorded),
            ],
            human: human + (action != .status && !changed ? "; nothing changed" : ""))
    }
}
