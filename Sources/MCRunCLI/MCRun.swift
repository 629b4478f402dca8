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
             or waiting for a person (agent_waiting)
          5  refused by policy: kill switch, parked, capacity, fail-closed, and
             ledger_missing (a used state directory lost its ledger; restore it, or
             accept the loss with --recreate-ledger)
          6  declined: the runtime is not in a state the command may act on
             (adopt guard, dead agent, a report that is not the live episode's)
          7  doctor only: a check failed
          8  done, not recorded: stop, park or killswitch on acted, but the ledger could
             not be written; kept in the state directory and recorded later
        With --json every command prints one object (JSON lines for streams), each with
        schema_version.
        """

    public static let configuration = CommandConfiguration(
        commandName: "mcrun",
        abstract: "Supervise AI coding-agent runtimes in tmux, one per ticket.",
        discussion: """
            \(exitCodesHelp)

            EXAMPLES:
              mcrun start T-42 --owner dispatcher -- claude --dangerously-skip-permissions
              mcrun ps
              mcrun attach T-42
              mcrun doctor
            """,
        version: BuildVersion.describe,
        subcommands: [
            RuntimeStart.self, RuntimeStop.self, RuntimeList.self, RuntimeShow.self, RuntimeAttach.self,
            RuntimeAdopt.self, RuntimeSend.self, RuntimePark.self, RuntimeUnpark.self, HostKillSwitch.self, HostBreakerCommand.self,
            HostConfigCommand.self, HostDoctor.self, HostMetrics.self, AgentActivity.self, Agent.self, LegacyHook.self,
            RuntimeLogs.self, RuntimeSignal.self, RuntimeHarvest.self, EventList.self, EventHooks.self,
            ServiceServe.self, TicketReset.self,
        ])

    public init() {}

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
            // An agent's hook must never fail, not even on a command line this mcrun does not
            // understand (a configuration written for a later version).
            if arguments.starts(with: ["agent", "report"]) {
                FileHandle.standardError.write(Data("mcrun agent report: ignored: \(message)\n".utf8))
                return 0
            }
            let hint = corrected(arguments).map { "did you mean: \($0)" } ?? "see: mcrun \(arguments.first.map { "\($0) " } ?? "")--help"
            FileHandle.standardError.write(Data("mcrun: \(message); \(hint)\n".utf8))
            return MCRunError.Code.badInput.exitCode
        }
    }

    /// The command the user most likely meant, for a usage error: the agent's argv without
    /// the `--` that must precede it, or a name from another command family.
    static func corrected(_ arguments: [String]) -> String? {
        guard let first = arguments.first else { return nil }
        var fixed: [String]?
        switch first {
        case "hooks":
            fixed = ["event-hooks"] + arguments.dropFirst()
        case "hook" where arguments.count > 1 && ["busy", "idle"].contains(arguments[1]):
            fixed = ["activity"] + arguments.dropFirst()
        case "hook" where arguments.count > 1 && ["deliver", "list"].contains(arguments[1]):
            fixed = ["event-hooks"] + arguments.dropFirst()
        case "start" where !arguments.contains("--") && arguments.count > 2:
            // The agent's argv begins at the last place a `--` makes the whole line parse: any
            // earlier place would hand mcrun's own options (--owner) to the agent.
            for split in (2..<arguments.count).reversed() {
                let candidate = Array(arguments[..<split]) + ["--"] + arguments[split...]
                if (try? parseAsRoot(candidate)) != nil {
                    fixed = candidate
                    break
                }
            }
        default:
            break
        }
        guard let fixed, (try? parseAsRoot(fixed)) != nil || first == "hooks" || first == "hook" else { return nil }
        return "mcrun " + fixed.map(shellWord).joined(separator: " ")
    }

    /// A word as a shell would need it to read it back as one argument.
    static func shellWord(_ word: String) -> String {
        let plain = !word.isEmpty && word.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_./=:@,+%".unicodeScalars.contains($0) }
        return plain ? word : PaneHooks.shellQuote(word)
    }
}
