import Glibc
import MCRunCLI

exit(await MCRun.run(arguments: Array(CommandLine.arguments.dropFirst())))
