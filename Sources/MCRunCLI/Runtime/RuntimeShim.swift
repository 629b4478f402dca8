import ArgumentParser
import MCRunCore

/// The pane's process before the agent; see `Shim`. Not for people.
struct RuntimeShim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shim", abstract: "Record the agent's identity, then exec it (run by tmux).", shouldDisplay: false)

    @Option var stateDir: String
    @Option var runtime: Int64

    func run() throws {
        let env = MCRunContext.processEnvironment()
        let context: MCRunContext
        do {
            context = try MCRunContext(stateDirectory: StateDirectory(path: stateDir), environment: env, actor: "shim")
        } catch {
            print("mcrun shim: \(error.description)")
            throw ExitCode(1)
        }
        Shim.run(context: context, runtimeID: runtime)
    }
}
