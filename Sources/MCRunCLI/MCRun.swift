public import ArgumentParser
import Foundation
import MCRunCore

public struct MCRun: AsyncParsableCommand {
    public static let exitCodesHelp = """
        Exit codes (the same for every command):
          0  ok
          1  internal error
          2  bad usage or input; nothing was changed (every number and duration has a
             range: durations as 1h30m, 250ms, 10s)
          3  not found
          4  conflict or busy (409): the ticket has a live runtime, or its agent is mid-turn
          5  refused by policy: kill switch, parked, capacity, fail-closed, and
             ledger_missing (a used state directory lost its ledger; restore it, or
             accept the loss with --recreate-ledger)
          6  declined: the runtime is not in a state the command may act on
             (adopt guard, dead agent, a report that is not the live episode's)
        """

    public static let configuration = CommandConfiguration(
        commandName: "mcrun",
        abstract: "Supervise AI coding-agent runtimes in tmux, one per ticket.",
        discussion: exitCodesHelp,
        subcommands: [
            RuntimeStart.self, RuntimeStop.self, RuntimeList.self, RuntimeShow.self, RuntimeShim.self,
            RuntimeAdopt.self, RuntimeSend.self, RuntimePark.self, RuntimeUnpark.self, HostKillSwitch.self,
            HostConfigCommand.self, AgentActivity.self, LegacyHook.self,
            RuntimeLogs.self, RuntimeSignal.self, RuntimeHarvest.self, EventList.self, EventHooks.self,
            ServiceServe.self, TicketReset.self,
        ])

    public init() {}

    /// The launch shim runs here, on the main thread, before anything is awaited. Its exec
    /// must come from the thread-group leader: an exec from another thread makes that thread
    /// take over the PID while the old leader is briefly a zombie, and a supervisor looking
    /// at that moment would see the agent dead.
    public static func runShimIfAsked(arguments: [String]) {
        guard arguments.first == "shim" else { return }
        do {
            let command = try RuntimeShim.parse(Array(arguments.dropFirst()))
            try command.run()
        } catch {
            RuntimeShim.exit(withError: error)
        }
    }

    /// Parses and runs, mapping every failure onto the documented exit codes: usage errors
    /// exit 2 (not ArgumentParser's 64).
    public static func run(arguments: [String]) async -> Int32 {
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return 0
        } catch let exit as ExitCode {
            return exit.rawValue
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                return 0
            }
            let message = MCRun.message(for: error).split(separator: "\n").first.map(String.init) ?? "bad usage"
            FileHandle.standardError.write(Data("mcrun: \(message); see: mcrun --help\n".utf8))
            return MCRunError.Code.badInput.exitCode
        }
    }
}
