import Glibc
import CLinux

/// Where one mcrun instance keeps everything: the ledger, its tmux socket, pane logs.
/// Private to its user (0700): a tmux socket is a remote shell for whoever can open it.
public struct StateDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    /// `--state-dir`, then `MCRUN_STATE_DIR`, then systemd's `STATE_DIRECTORY`, then
    /// `$XDG_STATE_HOME/mcrun`, then `~/.local/state/mcrun`.
    public static func resolve(explicit: String?, environment: [String: String]) -> StateDirectory {
        if let explicit, !explicit.isEmpty { return StateDirectory(path: absolute(explicit)) }
        if let env = environment["MCRUN_STATE_DIR"], !env.isEmpty { return StateDirectory(path: absolute(env)) }
        if let systemd = environment["STATE_DIRECTORY"], let first = systemd.split(separator: ":").first {
            return StateDirectory(path: String(first))
        }
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") { return StateDirectory(path: xdg + "/mcrun") }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? homeFromPasswd() ?? "/root"
        return StateDirectory(path: home + "/.local/state/mcrun")
    }

    public var ledgerPath: String { path + "/ledger.sqlite" }
    public var migrationLockPath: String { path + "/ledger.lock" }
    public var serveLockPath: String { path + "/serve.lock" }
    public var serveSocketPath: String { path + "/serve.sock" }
    public var tmuxDirectory: String { path + "/tmux" }
    public var tmuxSocketPath: String { tmuxDirectory + "/sock" }
    public var tmuxConfigPath: String { path + "/tmux.conf" }
    public var logsDirectory: String { path + "/logs" }

    public func paneLogPath(runtimeID: Int64) -> String { logsDirectory + "/runtime-\(runtimeID).log" }

    /// Creates the directories with mode 0700 and tightens them if they were looser.
    public func prepare() throws(MCRunError) {
        for dir in [path, tmuxDirectory, logsDirectory] {
            try Self.makePrivateDirectory(dir)
        }
        // The socket's path must fit sockaddr_un.sun_path.
        if tmuxSocketPath.utf8.count >= 104 {
            throw .badInput("state_dir_too_long", "state directory path is too long for a unix socket (\(tmuxSocketPath.utf8.count) bytes); choose a shorter --state-dir")
        }
    }

    static func makePrivateDirectory(_ dir: String) throws(MCRunError) {
        var components: [Substring] = []
        for part in dir.split(separator: "/") { components.append(part) }
        var current = ""
        for (i, part) in components.enumerated() {
            current += "/" + part
            let isLeaf = i == components.count - 1
            if mkdir(current, isLeaf ? 0o700 : 0o755) != 0 && errno != EEXIST {
                throw .internalError("cannot create state directory \(current): \(String(cString: strerror(errno)))")
            }
        }
        let mode = mcrun_file_mode(dir)
        guard mode >= 0, UInt32(mode) & S_IFMT == S_IFDIR else {
            throw .internalError("state directory \(dir) is not a directory")
        }
        if mode & 0o077 != 0 { chmod(dir, 0o700) }
    }

    /// `path` made absolute against the current directory (`.` is the directory itself).
    public static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        let cwd = currentDirectory()
        if path == "." || path.isEmpty { return cwd }
        return cwd == "/" ? "/" + path : cwd + "/" + path
    }

    public static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func homeFromPasswd() -> String? {
        guard let pw = getpwuid(getuid()), let dir = pw.pointee.pw_dir else { return nil }
        return String(cString: dir)
    }
}
