import Glibc

/// mcrun's configuration files: the system's `/etc/mcrun/mcrun.conf` (`$MCRUN_CONFIG`
/// names another) and the user's `$XDG_CONFIG_HOME/mcrun/mcrun.conf` (else
/// `~/.config/mcrun/mcrun.conf`). They name the state directory every command and the
/// service use, and `serve`'s options.
///
/// One `key = value` per line; `#` starts a comment line; blank lines are ignored; values
/// are taken verbatim after trimming (no quotes, no escapes). An unknown key, a line
/// without `=`, an empty value or a key given twice in one file is an error naming the
/// file and line. A missing file is no error; an unreadable one is.
public struct ConfigFile: Sendable, Equatable {
    /// `state-dir` (an absolute path), and serve's flags by their long names.
    public static let keys: Set<String> = ["state-dir", "reconcile-interval", "max-silent-retries", "retry-delay", "launch-timeout", "hooks-dir"]

    public static let defaultSystemPath = "/etc/mcrun/mcrun.conf"

    public struct Entry: Sendable, Equatable {
        public var value: String
        public var line: Int
    }

    public let path: String
    public let entries: [String: Entry]

    /// Parses a file's text; `path` is only for messages.
    public init(path: String, text: String) throws(MCRunError) {
        self.path = path
        var entries: [String: Entry] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            let trimmed = String(raw).trimmingWhitespace()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw Self.error(path, line, "expected key = value, found \(trimmed.debugDescription)")
            }
            let key = String(trimmed[..<equals]).trimmingWhitespace()
            let value = String(trimmed[trimmed.index(after: equals)...]).trimmingWhitespace()
            guard Self.keys.contains(key) else {
                throw Self.error(path, line, "unknown key \(key.debugDescription) (known: \(Self.keys.sorted().joined(separator: ", ")))")
            }
            guard !value.isEmpty else { throw Self.error(path, line, "\(key) has no value") }
            if let first = entries[key] {
                throw Self.error(path, line, "\(key) is already set on line \(first.line)")
            }
            if key == "state-dir" && !value.hasPrefix("/") {
                throw Self.error(path, line, "state-dir must be an absolute path, not \(value.debugDescription)")
            }
            entries[key] = Entry(value: value, line: line)
        }
        self.entries = entries
    }

    /// The file at `path`, or nil when there is none.
    public static func load(_ path: String) throws(MCRunError) -> ConfigFile? {
        guard let text = try readText(path) else { return nil }
        return try ConfigFile(path: path, text: text)
    }

    /// "PATH:LINE: message", exit 2.
    public static func error(_ path: String, _ line: Int, _ message: String) -> MCRunError {
        .badInput("bad_config", "\(path):\(line): \(message)")
    }

    static func readText(_ path: String) throws(MCRunError) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw .badInput("bad_config", "\(path): cannot read: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw .badInput("bad_config", "\(path): cannot read: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            bytes += buffer[0..<n]
            guard bytes.count <= 1 << 20 else { throw .badInput("bad_config", "\(path): larger than 1 MiB; not a configuration file") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The system and user files together: a key of the user's file wins over the system's.
public struct MCRunConfiguration: Sendable, Equatable {
    public var system: ConfigFile?
    public var user: ConfigFile?

    public init(system: ConfigFile?, user: ConfigFile?) {
        self.system = system
        self.user = user
    }

    public static func systemPath(environment: [String: String]) -> String {
        environment["MCRUN_CONFIG"].flatMap { $0.isEmpty ? nil : $0 } ?? ConfigFile.defaultSystemPath
    }

    /// `$XDG_CONFIG_HOME/mcrun/mcrun.conf`, else `~/.config/mcrun/mcrun.conf`.
    public static func userPath(environment: [String: String]) -> String? {
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") { return xdg + "/mcrun/mcrun.conf" }
        guard let home = environment["HOME"].flatMap({ $0.isEmpty ? nil : $0 }) ?? StateDirectory.homeFromPasswd() else { return nil }
        return home + "/.config/mcrun/mcrun.conf"
    }

    /// Reads both files; a bad line in either is an error (exit 2).
    public static func load(environment: [String: String]) throws(MCRunError) -> MCRunConfiguration {
        let system = try ConfigFile.load(systemPath(environment: environment))
        let user = try userPath(environment: environment).flatMap { path throws(MCRunError) in try ConfigFile.load(path) }
        return MCRunConfiguration(system: system, user: user)
    }

    /// The value of `key` and where it was set ("PATH:LINE"), user file first.
    public func value(_ key: String) -> (value: String, source: String)? {
        for file in [user, system] {
            if let file, let entry = file.entries[key] { return (entry.value, "\(file.path):\(entry.line)") }
        }
        return nil
    }

    /// A value that failed to parse, as a one-line error naming where it was set.
    public func invalid(_ key: String, _ expected: String) -> MCRunError {
        let (value, source) = value(key) ?? ("", "configuration")
        return .badInput("bad_config", "\(source): \(key) = \(value) is not \(expected)")
    }
}
