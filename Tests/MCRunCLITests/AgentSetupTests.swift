import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

@Suite(.serialized, .timeLimit(.minutes(2)))
struct AgentSetupTests {
    static let userSettings = #"""
        {"model": "opus", "n": 1.5,
         "hooks": {
           "PreToolUse": [
             {"matcher": "Bash", "hooks": [{"type": "command", "command": "./guard.sh"}]},
             {"matcher": "*", "hooks": [{"type": "command", "command": "mcrun activity busy", "timeout": 10}]}],
           "Stop": [{"hooks": [{"type": "command", "command": "mcrun activity idle"}, {"type": "command", "command": "say done"}]}]},
         "permissions": {"allow": ["Bash(git:*)"], "deny": ["Read(.env)"]}}
        """#

    static func shipped() throws -> JSONValue {
        let data = try #require(FileManager.default.contents(atPath: Scratch.packageRoot + "/hooks/claude-code/settings.json"))
        return try JSONDecoder().decode(JSONValue.self, from: data)
    }

    static func read(_ path: String) throws -> JSONValue {
        let data = try #require(FileManager.default.contents(atPath: path))
        return try JSONDecoder().decode(JSONValue.self, from: data)
    }

    static func inode(_ path: String) -> UInt? {
        var info = stat()
        return stat(path, &info) == 0 ? UInt(info.st_ino) : nil
    }

    static func commands(_ settings: JSONValue, _ event: String) -> [String] {
        (settings["hooks"]?[event]?.arrayValue ?? []).flatMap { $0["hooks"]?.arrayValue ?? [] }.compactMap { $0["command"]?.stringValue }
    }

    @Test func mergesKeepsTheUsersEntriesAndIsIdempotent() throws {
        let s = try Scratch(name: "setupmerge")
        defer { s.cleanup() }
        let project = s.path("project")
        try FileManager.default.createDirectory(atPath: project + "/.claude", withIntermediateDirectories: true)
        let path = project + "/.claude/settings.json"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(Self.userSettings.utf8)))

        let (first, json) = try s.mcrunJSON(["agent", "setup", "claude-code", "--project", project])
        #expect(first.status == 0, "\(first.stderrText)")
        #expect(json.at("changed")?.boolValue == true)
        let changes = json.at("changes")?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(changes.contains { $0.hasPrefix("remove PreToolUse hook `mcrun activity busy`") })
        #expect(changes.contains { $0.hasPrefix("add PermissionRequest hook `mcrun agent report`") })
        #expect(changes.contains("add permission rule `Bash(mcrun signal *)` to permissions.allow"))

        let merged = try Self.read(path)
        // The person's own entries, untouched.
        #expect(merged["model"] == "opus")
        #expect(merged["n"] == .double(1.5))
        #expect(merged["permissions"]?["deny"] == ["Read(.env)"])
        #expect(merged["permissions"]?["allow"] == ["Bash(git:*)", "Bash(mcrun signal *)"])
        #expect(Self.commands(merged, "PreToolUse") == ["./guard.sh", "mcrun agent report"])
        #expect(merged["hooks"]?["PreToolUse"]?.arrayValue?.first?["matcher"] == "Bash")
        #expect(Self.commands(merged, "Stop") == ["say done", "mcrun agent report"])
        // Every shipped hook is there, and no retired one.
        for (event, _) in try Self.shipped()["hooks"]?.objectValue ?? [:] {
            #expect(Self.commands(merged, event).contains("mcrun agent report"), "\(event) has no report hook")
        }
        let all = (merged["hooks"]?.objectValue ?? [:]).keys.flatMap { Self.commands(merged, $0) }
        #expect(!all.contains { AgentSettings.retiredCommands.contains($0) })

        // Twice: nothing changes, the file is not even rewritten.
        let bytes = FileManager.default.contents(atPath: path)
        let inode = Self.inode(path)
        let (second, again) = try s.mcrunJSON(["agent", "setup", "claude-code", "--project", project])
        #expect(second.status == 0)
        #expect(again.at("changed")?.boolValue == false)
        #expect(again.at("changes")?.arrayValue?.isEmpty == true)
        #expect(FileManager.default.contents(atPath: path) == bytes)
        #expect(Self.inode(path) == inode)
        #expect(try s.mcrun(["agent", "setup", "claude-code", "--project", project]).stdoutText.contains("already set up, nothing changed"))
    }

    @Test func dryRunChangesNothing() throws {
        let s = try Scratch(name: "setupdry")
        defer { s.cleanup() }
        let project = s.path("project")
        try FileManager.default.createDirectory(atPath: project + "/.claude", withIntermediateDirectories: true)
        let path = project + "/.claude/settings.json"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(Self.userSettings.utf8)))
        let inode = Self.inode(path)
        let result = try s.mcrun(["agent", "setup", "claude-code", "--project", project, "--dry-run"])
        #expect(result.status == 0, "\(result.stderrText)")
        #expect(result.stdoutText.contains("dry run, nothing written"))
        #expect(result.stdoutText.contains("add UserPromptSubmit hook `mcrun agent report`"))
        #expect(FileManager.default.contents(atPath: path) == Data(Self.userSettings.utf8))
        #expect(Self.inode(path) == inode)
        #expect(try FileManager.default.contentsOfDirectory(atPath: project + "/.claude") == ["settings.json"])

        // No settings yet: a dry run creates neither the file nor its folder.
        let fresh = s.path("fresh")
        try FileManager.default.createDirectory(atPath: fresh, withIntermediateDirectories: true)
        #expect(try s.mcrun(["agent", "setup", "claude-code", "--project", fresh, "--dry-run"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: fresh + "/.claude"))
    }

    @Test func userSettingsAreCreatedFromTheShippedConfiguration() throws {
        let s = try Scratch(name: "setupuser")
        defer { s.cleanup() }
        let home = s.path("home")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        s.environment["HOME"] = home
        let result = try s.mcrun(["agent", "setup", "claude-code", "--user"])
        #expect(result.status == 0, "\(result.stderrText)")
        #expect(result.stdoutText.contains("created"))
        #expect(try Self.read(home + "/.claude/settings.json") == Self.shipped())
        #expect(try s.mcrun(["agent", "setup", "claude-code", "--user", "--project", home]).status == 2)
    }

    @Test func invalidSettingsAreLeftUntouched() throws {
        let s = try Scratch(name: "setupbad")
        defer { s.cleanup() }
        let project = s.path("project")
        try FileManager.default.createDirectory(atPath: project + "/.claude", withIntermediateDirectories: true)
        let path = project + "/.claude/settings.json"
        for bad in [
            #"{"hooks": {"Stop": [}"#, #"{"model": "opus",}"#, #"{"permissions": {"allow": ["Bash(x)",]}}"#, #"{"hooks": []}"#, #"{"hooks": {"Stop": {}}}"#,
            #"{"permissions": {"allow": "Bash"}}"#, "[1]",
        ] {
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bad.utf8)))
            let inode = Self.inode(path)
            let (result, json) = try s.mcrunJSON(["agent", "setup", "claude-code", "--project", project])
            #expect(result.status == 2, "\(bad): \(result.status)")
            #expect(json.at("reason")?.stringValue == "bad_settings", "\(bad)")
            #expect(result.stderrText.split(separator: "\n").count == 1)
            #expect(FileManager.default.contents(atPath: path) == Data(bad.utf8), "\(bad) was changed")
            #expect(Self.inode(path) == inode)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: project + "/.claude") == ["settings.json"])
        #expect(try s.mcrun(["agent", "setup", "claude-code", "--project", s.path("missing")]).status == 2)
        #expect(try s.mcrun(["agent", "setup", "cursor", "--project", project]).status == 2)
    }
}

/// `mcrun agent setup codex|aider`: one key added to a TOML or YAML file as text, the
/// person's lines and comments kept, a key set to something else refused.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct AgentSetupCodexAiderTests {
    static let codexConfig = #"""
        # my settings
        model = "gpt-5-codex"
        approval_policy = "on-request"
        extra = [
          "a",
          "[not a table]",
        ]

        [profiles.fast]
        model = "gpt-5-mini"
        notify = ["a-profile-key-is-not-the-top-level-one"]
        """#

    static func text(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func codexGetsTheNotifyKeyAtTheTopLevelOnce() throws {
        let s = try Scratch(name: "setupcodex")
        defer { s.cleanup() }
        let home = s.path("codex-home")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        s.environment["CODEX_HOME"] = home
        let path = home + "/config.toml"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(Self.codexConfig.utf8)))

        let (dry, dryJSON) = try s.mcrunJSON(["agent", "setup", "codex", "--dry-run"])
        #expect(dry.status == 0, "\(dry.stderrText)")
        #expect(dryJSON.at("changed")?.boolValue == false)
        #expect(Self.text(path) == Self.codexConfig)

        let (first, json) = try s.mcrunJSON(["agent", "setup", "codex", "--user"])
        #expect(first.status == 0, "\(first.stderrText)")
        #expect(json.at("path")?.stringValue == path)
        #expect(json.at("changes")?.arrayValue?.compactMap(\.stringValue) == [#"add notify = ["mcrun", "agent", "report", "--from", "codex"] (top level)"#])
        let merged = try #require(Self.text(path))
        let lines = merged.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let notify = try #require(lines.firstIndex(of: #"notify = ["mcrun", "agent", "report", "--from", "codex"]"#))
        #expect(notify < (lines.firstIndex(of: "[profiles.fast]") ?? -1), "notify must come before the first table:\n\(merged)")
        #expect(notify > (lines.firstIndex(of: "]") ?? Int.max), "notify must not land inside the array:\n\(merged)")
        // Every line of the person's file is still there, in order.
        #expect(
            lines.filter { Self.codexConfig.split(separator: "\n").map(String.init).contains($0) } == Self.codexConfig.split(separator: "\n").map(String.init))

        let (again, againJSON) = try s.mcrunJSON(["agent", "setup", "codex"])
        #expect(again.status == 0)
        #expect(againJSON.at("changed")?.boolValue == false)
        #expect(Self.text(path) == merged)

        // Another notify program is the person's: refused, nothing written.
        let taken = "notify = [\"notify-send\", \"Codex\"]\nmodel = \"o3\"\n"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(taken.utf8)))
        let (refused, refusal) = try s.mcrunJSON(["agent", "setup", "codex"])
        #expect(refused.status == 2)
        #expect(refusal.at("reason")?.stringValue == "notify_taken")
        #expect(Self.text(path) == taken)
        // Codex ignores notify in a project's config.
        let (project, projectJSON) = try s.mcrunJSON(["agent", "setup", "codex", "--project", s.directory])
        #expect(project.status == 2)
        #expect(projectJSON.at("reason")?.stringValue == "project_not_supported")
        // A new file is created with the key alone.
        #expect(unlink(path) == 0)
        #expect(try s.mcrun(["agent", "setup", "codex"]).status == 0)
        #expect(Self.text(path)?.contains("\nnotify = [\"mcrun\", \"agent\", \"report\", \"--from\", \"codex\"]\n") == true)
    }

    @Test func aiderGetsItsNotificationsCommandOnce() throws {
        let s = try Scratch(name: "setupaider")
        defer { s.cleanup() }
        let project = s.path("project")
        try FileManager.default.createDirectory(atPath: project, withIntermediateDirectories: true)
        let path = project + "/.aider.conf.yml"
        let mine = "# mine\nmodel: sonnet\nread:\n  - CONVENTIONS.md\n"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(mine.utf8)))

        let (first, json) = try s.mcrunJSON(["agent", "setup", "aider", "--project", project])
        #expect(first.status == 0, "\(first.stderrText)")
        #expect(
            json.at("changes")?.arrayValue?.compactMap(\.stringValue) == [
                "add notifications: true", "add notifications-command: mcrun agent report --from aider",
            ])
        let merged = try #require(Self.text(path))
        #expect(merged.hasPrefix(mine))
        #expect(merged.hasSuffix("notifications: true\nnotifications-command: mcrun agent report --from aider\n"))
        // The shipped file's keys are what setup writes.
        let shipped = try #require(Self.text(Scratch.packageRoot + "/hooks/aider/aider.conf.yml"))
        for line in shipped.split(separator: "\n") where !line.hasPrefix("#") { #expect(merged.contains(line + "\n")) }

        let (again, againJSON) = try s.mcrunJSON(["agent", "setup", "aider", "--project", project])
        #expect(again.status == 0)
        #expect(againJSON.at("changed")?.boolValue == false)
        #expect(Self.text(path) == merged)

        let off = "notifications: false\n"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(off.utf8)))
        let (refused, refusal) = try s.mcrunJSON(["agent", "setup", "aider", "--project", project])
        #expect(refused.status == 2)
        #expect(refusal.at("reason")?.stringValue == "notifications_taken")
        #expect(Self.text(path) == off)
    }
}
