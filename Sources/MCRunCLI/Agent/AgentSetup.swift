import ArgumentParser
import Foundation
import Glibc
import MCRunCore

struct AgentSetup: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup",
        abstract: "Merge mcrun's hooks (and Claude Code's permission rule) into an agent's settings, keeping the person's own entries.",
        discussion: """
            claude-code: merges hooks/claude-code/settings.json (the hooks that run `mcrun agent
            report`, and the permission rule that lets the agent run `mcrun signal` without asking)
            into DIR/.claude/settings.json (--project, default the current directory) or
            ~/.claude/settings.json (--user). Only what is missing is added: running it twice
            changes nothing the second time. Hooks of an earlier mcrun (`mcrun activity busy|idle`,
            which block the agent outside a runtime) are removed. The file is rewritten with sorted
            keys and two-space indentation, through a temporary file and a rename, and only when
            something changed. Prints each change; --dry-run prints them and writes nothing.
            A settings file that is not valid JSON, or whose hooks or permissions have an
            unexpected shape, exits 2 (bad_settings) and is left untouched.

            codex: adds `notify = ["mcrun", "agent", "report", "--from", "codex"]` as a top-level
            key of ~/.codex/config.toml ($CODEX_HOME/config.toml; Codex ignores notify in a
            project's config, so --project is refused). aider: adds `notifications: true` and
            `notifications-command: mcrun agent report --from aider` to DIR/.aider.conf.yml
            (--project) or ~/.aider.conf.yml (--user). Both are edited as text: every other line
            and comment stays; a notify or notifications command already set to something else
            exits 2 (notify_taken, notifications_command_taken) and changes nothing.

            EXAMPLES:
              mcrun agent setup claude-code --project ~/src/app --dry-run
              mcrun agent setup claude-code --project ~/src/app
              mcrun agent setup claude-code --user
              mcrun agent setup codex --user
              mcrun agent setup aider --project ~/src/app
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The agent: claude-code, codex or aider.")
    var agent: Kind

    @Option(help: "The project whose .claude/settings.json or .aider.conf.yml to change (default: the current directory).")
    var project: String?

    @Flag(help: "Change the user's settings (~/.claude/settings.json, ~/.codex/config.toml, ~/.aider.conf.yml), for every project.")
    var user = false

    @Flag(help: "Print what would change; write nothing.")
    var dryRun = false

    enum Kind: String, ExpressibleByArgument, CaseIterable, Sendable {
        case claudeCode = "claude-code"
        case codex
        case aider
    }

    func validate() throws {
        if user && project != nil { throw ValidationError("give --project DIR or --user, not both") }
    }

    func execute() throws(MCRunError) -> Reply {
        let env = MCRunContext.processEnvironment()
        let path = try settingsPath(env)
        let existed: Bool
        let merge: (text: String, changes: [String])
        switch agent {
        case .claudeCode:
            let json = try read(path)
            let merged = try AgentSettings.merge(try shippedSettings(env), into: json ?? [:])
            (existed, merge) = (json != nil, (merged.settings.prettyJSONText, merged.changes))
        case .codex, .aider:
            let text = try readText(path)
            let merged = agent == .codex ? try AgentConfigText.mergeCodex(text ?? "") : try AgentConfigText.mergeAider(text ?? "")
            (existed, merge) = (text != nil, (merged.text, merged.changes))
        }
        let changed = !merge.changes.isEmpty
        if changed && !dryRun { try write(merge.text, to: path) }
        let header =
            !changed
            ? "\(path): already set up, nothing changed"
            : dryRun
                ? "\(path): dry run, nothing written; it would:"
                : "\(path): \(existed ? "updated" : "created"):"
        let lines = [header] + merge.changes.map { "  " + $0 }
        return Reply(
            fields: ["path": .string(path), "changed": .bool(changed && !dryRun), "dry_run": .bool(dryRun), "changes": JSONValue(merge.changes)],
            human: lines.joined(separator: "\n"))
    }

    func settingsPath(_ env: [String: String]) throws(MCRunError) -> String {
        // Codex reads `notify` only from the user's config ($CODEX_HOME/config.toml).
        if agent == .codex {
            guard project == nil else {
                throw .badInput(
                    "project_not_supported",
                    "Codex ignores notify in a project's .codex/config.toml; use --user, or pass -c 'notify=\(AgentConfigText.codexNotify)' to codex on the start command"
                )
            }
            if let codexHome = env["CODEX_HOME"], codexHome.hasPrefix("/") { return codexHome + "/config.toml" }
        }
        let file =
            switch agent {
            case .claudeCode: "/.claude/settings.json"
            case .codex: "/.codex/config.toml"
            case .aider: "/.aider.conf.yml"
            }
        if user || agent == .codex {
            guard let home = env["HOME"], home.hasPrefix("/") else {
                throw .badInput("no_home", "HOME is not set to an absolute path\(agent == .codex ? "; set CODEX_HOME" : "; use --project DIR")")
            }
            return home + file
        }
        let dir = StateDirectory.absolute(project ?? ".")
        var info = stat()
        guard stat(dir, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw .badInput("bad_project", "\(dir.debugDescription) is not a directory")
        }
        return (dir == "/" ? "" : dir) + file
    }

    /// The current text of a TOML or YAML settings file; nil when there is none.
    func readText(_ path: String) throws(MCRunError) -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw .badInput("bad_settings", "cannot read \(path) as UTF-8 text; nothing was changed")
        }
        return text
    }

    /// mcrun's configuration for the agent, the file shipped in hooks/.
    func shippedSettings(_ env: [String: String]) throws(MCRunError) -> JSONValue {
        guard let hooks = PaneHooks.hooksDirectory(environment: env, executable: MCRunContext.executable(environment: env)) else {
            throw .internalError("cannot find mcrun's hooks folder; install it to /usr/local/lib/mcrun/hooks or set MCRUN_HOOKS_DIR")
        }
        let path = "\(hooks)/\(agent.rawValue)/settings.json"
        guard let data = FileManager.default.contents(atPath: path), let json = JSONValue.parse(String(decoding: data, as: UTF8.self)) else {
            throw .internalError("cannot read mcrun's \(path)")
        }
        return json
    }

    /// The current settings; nil when there is no file. An empty file counts as `{}`.
    func read(_ path: String) throws(MCRunError) -> JSONValue? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .badInput("bad_settings", "cannot read \(path); nothing was changed")
        }
        let text = String(decoding: data, as: UTF8.self)
        if text.allSatisfy(\.isWhitespace) { return [:] }
        guard let json = AgentSettings.parse(text) else {
            throw .badInput("bad_settings", "\(path) is not valid JSON; fix it (or move it away) and run this again; nothing was changed")
        }
        return json
    }

    /// Through a temporary file beside it and a rename: the agent never reads half a file.
    func write(_ text: String, to path: String) throws(MCRunError) {
        let dir = (path as NSString).deletingLastPathComponent
        if mkdir(dir, 0o755) != 0 && errno != EEXIST {
            throw .internalError("cannot create \(dir): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        let mode = stat(path, &info) == 0 ? info.st_mode & 0o7777 : 0o644
        let temporary = "\(path).mcrun-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .internalError("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        fchmod(fd, mode)
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .internalError("cannot write \(path): \(reason); it was left as it was")
        }
    }
}
