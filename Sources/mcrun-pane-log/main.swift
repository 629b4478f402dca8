// tmux pipe-pane runs one of these per pane: it must stay small (stdlib and
// Glibc only) and must never stop reading, or the pane's output backs up.
import Glibc

switch PaneLogArguments.parse(Array(CommandLine.arguments.dropFirst())) {
case .help:
    writeLine(PaneLogArguments.usage, to: STDOUT_FILENO)
    exit(0)
case .invalid(let problem):
    writeLine("mcrun-pane-log: \(problem); \(PaneLogArguments.usage)", to: STDERR_FILENO)
    exit(2)
case .valid(let arguments):
    var pump = Pump(arguments: arguments)
    exit(pump.run())
}
