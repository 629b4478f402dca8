import Glibc
import MCRunCLI

let arguments = Array(CommandLine.arguments.dropFirst())
// Synchronous, on the main thread: see `runShimIfAsked`.
MCRun.runShimIfAsked(arguments: arguments)
exit(await MCRun.run(arguments: arguments))
