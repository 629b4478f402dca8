import CLinux
import Glibc

/// Where one mcrun instance keeps everything: the ledger, its tmux socket, pane logs.
/// Written only by its owner; readable by its group (0750), the operators who may read
/// `ps`, `show`, `logs`, `events` and `harvest`. Nothing is ever readable by others.
public struct StateDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    /// `--state-dir`, then `MCRUN_STATE_DIR`, then `state-dir` of the user's configuration
    /// file, then of the system's (`/etc/mcrun/mcrun.conf`), then systemd's
    /// `STATE_DIRECTORY`, then `$XDG_STATE_HOME/mcrun`, then `~/.local/state/mcrun`.
    public static func resolve(
        explicit: String?, environment: [String: String], configuration: MCRunConfiguration = .init(system: nil, user: nil)
    ) -> StateDirectory {
        if let explicit, !explicit.isEmpty { return StateDirectory(path: absolute(explicit)) }
        if let env = environment["MCRUN_STATE_DIR"], !env.isEmpty { return StateDirectory(path: absolute(env)) }
        if let configured = configuration.value("state-dir") { return StateDirectory(path: configured.value) }
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
    /// Where a launcher listens for the shim of the runtime it launches (see `LaunchHandshake`).
    public func launchSocketPath(runtimeID: Int64) -> String { path + "/launch-\(runtimeID).sock" }

    /// Creates the directories with mode 0750 and takes away any access of others.
    public func prepare() throws(MCRunError) {
        for dir in [path, tmuxDirectory, logsDirectory] {
            try Self.makePrivateDirectory(dir)
        }
        IntentReserve(directory: self).prepare()
        // The socket's path must fit sockaddr_un.sun_path.
        if tmuxSocketPath.utf8.count >= 104 {
            throw .badInput(
                "state_dir_too_long", "state directory path is too long for a unix socket (\(tmuxSocketPath.utf8.count) bytes); choose a shorter --state-dir")
        }
    }

    static func makePrivateDirectory(_ dir: String) throws(MCRunError) {
        var components: [Substring] = []
        for part in dir.split(separator: "/") { components.append(part) }
        var current = ""
        for (i, part) in components.enumerated() {
            current += "/" + part
            let isLeaf = i == components.count - 1
            if mkdir(current, isLeaf ? 0o750 : 0o755) != 0 && errno != EEXIST {
                throw .internalError("cannot create state directory \(current): \(String(cString: strerror(errno)))")
            }
        }
        let mode = mcrun_file_mode(dir)
        guard mode >= 0, UInt32(mode) & S_IFMT == S_IFDIR else {
            throw .internalError("state directory \(dir) is not a directory")
        }
        if mode & 0o007 != 0 { chmod(dir, mode_t(mode) & 0o770) }
    }

    /// Who may use this directory. Its owner and root may change it; root acts as the owner
    /// (this process takes the owner's identity), so every file it creates is the owner's
    /// and the service can still write it. Anyone else is refused, naming the user to run
    /// as, unless only `reading` and the directory's group lets them read it (the operators
    /// of a service's directory). A directory yet to be made is this user's.
    public func checkAccess(reading: Bool) throws(MCRunError) {
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        let me = geteuid()
        if info.st_uid == me { return }
        let owner = Self.userName(info.st_uid)
        if me == 0 { return try Self.become(uid: info.st_uid, name: owner) }
        if reading, Glibc.access(path, R_OK | X_OK) == 0 { return }
        let readers =
            info.st_mode & 0o050 == 0o050 ? "; members of group \(Self.groupName(info.st_gid)) may read it with ps, show, logs, events and harvest" : ""
        throw MCRunError(
            .refused, "wrong_user",
            "state directory \(path) belongs to user \(owner); run as that user (sudo -u \(owner) mcrun ...) or as root\(readers)")
    }

    /// The members of the directory's group other than its owner: the operators who may read
    /// it and watch the agents read-only.
    public func operators() -> [String] {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & 0o050 == 0o050, let group = getgrgid(info.st_gid), var member = group.pointee.gr_mem else { return [] }
        let owner = Self.userName(info.st_uid)
        var names: [String] = []
        while let name = member.pointee {
            let text = String(cString: name)
            if text != owner && text != "root" { names.append(text) }
            member += 1
        }
        return names
    }

    /// Takes the identity of `uid` (its group and supplementary groups too) for the rest of
    /// the process.
    static func become(uid: uid_t, name: String) throws(MCRunError) {
        guard let pw = getpwuid(uid) else {
            throw MCRunError(.refused, "wrong_user", "the state directory belongs to uid \(uid), which has no user; run as that uid")
        }
        let gid = pw.pointee.pw_gid
        guard initgroups(pw.pointee.pw_name, gid) == 0, setgid(gid) == 0, setuid(uid) == 0 else {
            throw .internalError("cannot act as \(name), the state directory's owner: \(String(cString: strerror(errno)))")
        }
    }

    static func userName(_ uid: uid_t) -> String {
        getpwuid(uid).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? "uid \(uid)"
    }

    static func groupName(_ gid: gid_t) -> String {
        getgrgid(gid).flatMap { $0.pointee.gr_name.map { String(cString: $0) } } ?? "gid \(gid)"
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
