import ArgumentParser
import Foundation
import MCRunCLI
import MCRunCore
import MCRunTestSupport
import Testing

/// What people expect of a CLI: a version, examples in every help, errors that show the
/// right command, one schema version on every JSON object, settings with their source.
@Suite(.timeLimit(.minutes(2)))
struct CLIConventionTests {
    /// Every command path the help shows, nested ones too.
    static func commandPaths(_ command: any ParsableCommand.Type = MCRun.self, prefix: [String] = []) -> [[String]] {
        command.configuration.subcommands.flatMap { sub -> [[String]] in
            guard sub.configuration.shouldDisplay, let name = sub.configuration.commandName else { return [] }
            return [prefix + [name]] + commandPaths(sub, prefix: prefix + [name])
        }
    }

    @Test func everyCommandsHelpHasExamples() throws {
        let s = try Scratch(name: "help")
        defer { s.cleanup() }
        let paths = Self.commandPaths()
        #expect(paths.count >= 20, "\(paths)")
        for path in [[]] + paths {
            let help = try s.mcrun(path + ["--help"])
            #expect(help.status == 0, "\(path)")
            #expect(help.stdoutText.contains("EXAMPLES:"), "mcrun \(path.joined(separator: " ")) --help has no EXAMPLES")
            let examples = help.stdoutText.components(separatedBy: "EXAMPLES:").last ?? ""
            #expect(examples.contains("mcrun \(path.joined(separator: " "))"), "examples of \(path) do not show it")
        }
    }

    @Test func versionIsTheBuildsGitDescribe() throws {
        let s = try Scratch(name: "version")
        defer { s.cleanup() }
        let version = try s.mcrun(["--version"])
        #expect(version.status == 0)
        let text = version.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!text.isEmpty && !text.contains(" ") && !text.contains("\n"), "\(version.stdoutText)")
        if FileManager.default.fileExists(atPath: Scratch.packageRoot + "/.git") {
            #expect(text != "unknown", "a build from a git checkout knows its commit")
            // `git describe --tags --always --dirty`: [TAG-N-g]HASH[-dirty]. The hash names a
            // commit of this repository (the one built, which may be behind HEAD).
            var described = text.hasSuffix("-dirty") ? String(text.dropLast(6)) : text
            if let g = described.range(of: "-g", options: .backwards) { described = String(described[g.upperBound...]) }
            let known = try Subprocess.run(["git", "-C", Scratch.packageRoot, "cat-file", "-e", described + "^{commit}"])
            #expect(known.succeeded, "version \(text) names no commit of this repository")
        }
    }

    @Test func aMissingDoubleDashShowsTheCorrectedCommandAndStartsNothing() throws {
        let s = try Scratch(name: "dashes")
        defer { s.cleanup() }
        let result = try s.mcrun(["start", "T1", "--owner", "me", "sh", "-c", "echo hi; sleep 100"])
        #expect(result.status == 2)
        #expect(result.stderrText.split(separator: "\n").count == 1)
        #expect(result.stderrText.contains("did you mean: mcrun start T1 --owner me -- sh -c 'echo hi; sleep 100'"), "\(result.stderrText)")
        #expect(!FileManager.default.fileExists(atPath: s.stateDir), "a usage error touched the state directory")

        let hooks = try s.mcrun(["hooks", "deliver", "--once"])
        #expect(hooks.status == 2)
        #expect(hooks.stderrText.contains("did you mean: mcrun event-hooks deliver --once"), "\(hooks.stderrText)")
        let hook = try s.mcrun(["hook", "busy"])
        #expect(hook.status == 2)
        #expect(hook.stderrText.contains("did you mean: mcrun activity busy"), "\(hook.stderrText)")
    }

    @Test func everyJSONObjectCarriesTheSchemaVersion() throws {
        let s = try Scratch(name: "schema")
        defer { s.cleanup() }
        try #require(try s.mcrun(["start", "A1", "--", "sleep", "1000"]).status == 0)
        for args in [["ps"], ["show", "A1"], ["config"], ["killswitch", "status"], ["metrics"], ["doctor"], ["show", "NOPE"], ["attach", "A1", "--print"]] {
            let (_, json) = try s.mcrunJSON(args)
            #expect(json.at("schema_version")?.intValue == 2, "\(args): \(json)")
        }
        let events = try s.mcrun(["events", "--json"])
        let lines = events.stdoutText.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let event = try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))
            #expect(event.at("schema_version")?.intValue == 2, "\(line)")
        }
    }

    @Test func configShowsEffectiveValuesAndWhereTheyComeFrom() throws {
        let s = try Scratch(name: "config")
        defer { s.cleanup() }
        let (_, defaults) = try s.mcrunJSON(["config"])
        #expect(defaults.at("settings.max-silent-retries")?.stringValue == "1")
        #expect(defaults.at("settings.interrupt-key")?.stringValue == "Escape")
        #expect(defaults.at("settings.capacity") == .null)
        #expect(defaults.at("sources.max-silent-retries")?.stringValue == "default")

        #expect(try s.mcrun(["config", "max-silent-retries", "3"]).status == 0)
        let (_, set) = try s.mcrunJSON(["config", "max-silent-retries"])
        #expect(set.at("settings.max-silent-retries")?.stringValue == "3")
        #expect(set.at("sources.max-silent-retries")?.stringValue == "ledger")
        let human = try s.mcrun(["config"]).stdoutText
        #expect(human.split(separator: "\n").contains { $0.hasPrefix("max-silent-retries") && $0.hasSuffix("ledger") && $0.contains(" 3 ") }, "\(human)")
        #expect(human.split(separator: "\n").contains { $0.hasPrefix("retry-delay") && $0.hasSuffix("default") }, "\(human)")
    }

    @Test func shippedCompletionsAndManPageMatchTheCommands() throws {
        let s = try Scratch(name: "share")
        defer { s.cleanup() }
        for (shell, file) in [("bash", "mcrun.bash"), ("zsh", "_mcrun"), ("fish", "mcrun.fish")] {
            let generated = try s.mcrun(["--generate-completion-script", shell])
            #expect(generated.status == 0)
            let shipped = try? String(contentsOfFile: Scratch.packageRoot + "/share/completions/" + file, encoding: .utf8)
            #expect(shipped == generated.stdoutText, "share/completions/\(file) is stale: run scripts/generate-man-and-completions.sh")
        }
        let man = try String(contentsOfFile: Scratch.packageRoot + "/share/man/man1/mcrun.1", encoding: .utf8)
        for path in Self.commandPaths() where path.count == 1 {
            #expect(man.contains(path[0]), "the man page lacks \(path[0]): run scripts/generate-man-and-completions.sh")
        }
    }
}
