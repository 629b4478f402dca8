import ArgumentParser
import Foundation
import Glibc
import MCRunCore

struct AgentSetup: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup",
        abstract: "Merge mcrun's hooks and permission rule into an agent's settings, keeping the person's own entries.",
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

            EXAMPLES:
              mcrun agent setup claude-code --project ~/src/app --dry-run
              mcrun agent setup claude-code --project ~/src/app
              mcrun agent setup claude-code --user
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The agent: claude-code.")
    var agent: Kind

    @Option(help: "The project whose .claude/settings.json to change (default: the current directory).")
    var project: String?

    @Flag(help: "Change ~/.claude/settings.json, the settings of every project of this user.")
    var user = false

    @Flag(help: "Print what would change; write nothing.")
    var dryRun = false

    enum Kind: String, ExpressibleByArgument, CaseIterable, Sendable {
        case claudeCode = "claude-code"
    }

    func validate() throws {
        if user && project != nil { throw ValidationError("give --project DIR or --user, not both") }
    }

    func execute() throws(MCRunError) -> Reply {
        let env = MCRunContext.processEnvironment()
        let path = try settingsPath(env)
        let shipped = try shippedSettings(env)
        let existing = try read(path)
        let merge = try AgentSettings.merge(shipped, into: existing ?? [:])
        let changed = !merge.changes.isEmpty
        if changed && !dryRun { try write(merge.settings.prettyJSONText, to: path) }
        let header =
            !changed
            ? "\(path): already set up, nothing changed"
            : dryRun
                ? "\(path): dry run, nothing written; it would:"
                : "\(path): \(existing == nil ? "created" : "updated"):"
        let lines = [header] + merge.changes.map { "  " + $0 }
        return Reply(
            fields: ["path": .string(path), "changed": .bool(changed && !dryRun), "dry_run": .bool(dryRun), "changes": JSONValue(merge.changes)],
            human: lines.joined(separator: "\n"))
    }

    func settingsPath(_ env: [String: String]) throws(MCRunError) -> String {
        if user {
            guard let home = env["HOME"], home.hasPrefix("/") else {
                throw .badInput("no_home", "HOME is not set to an absolute path; use --project DIR")
            }
            return home + "/.claude/settings.json"
        }
        let dir = StateDirectory.absolute(project ?? ".")
        var info = stat()
        guard stat(dir, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw .badInput("bad_project", "\(dir.debugDescription) is not a directory")
        }
        return (dir == "/" ? "" : dir) + "/.claude/settings.json"
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
