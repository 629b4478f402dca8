import Foundation
import PackagePlugin

/// Gives the CLI the version of the build: `git describe` of the package, written as
/// Swift by scripts/version.sh before every build (rewritten only when it changed).
@main
struct VersionPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "generated")
        let package = context.package.directoryURL
        return [
            .prebuildCommand(
                displayName: "mcrun version (git describe)",
                executable: URL(filePath: "/bin/sh"),
                arguments: [package.appending(path: "scripts/version.sh").path(), package.path(), output.appending(path: "Version.swift").path()],
                outputFilesDirectory: output)
        ]
    }
}
