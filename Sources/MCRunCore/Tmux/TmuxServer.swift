import Glibc

/// mcrun's own tmux server, on a private socket. Every call is an argv array; tmux never
/// receives a string to parse as a shell command from mcrun, except the pipe-pane hook
/// line, which is built only from quoted paths and integers.
public struct TmuxServer: Sendable {
    public let socketPath: String
    public let configPath: String
    public var binary: String
    public var historyLimit: Int
    public var timeoutMilliseconds: Int
    /// False where the server is another unit's (mcrun-tmux.service): `tmux -N`, so a call
    /// while it is down fails instead of starting a server in the caller's cgroup.
    public var startsServer = true

    public init(directory: StateDirectory, environment: [String: String] = [:]) {
        socketPath = directory.tmuxSocketPath
        configPath = directory.tmuxConfigPath
        binary = environment["MCRUN_TMUX"] ?? "tmux"
        historyLimit = environment["MCRUN_HISTORY_LIMIT"].flatMap(Int.init) ?? 5000
        timeoutMilliseconds = 10_000
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var arguments: [String]
        public var message: String
        /// tmux did not finish within the deadline and was killed: what it did is unknown.
        public var timedOut = false
        public var description: String { "tmux \(arguments.first ?? ""): \(message)" }
    }

    /// Options every session relies on, set on each launch so a server started elsewhere
    /// (the systemd unit, an operator) behaves the same: the server outlives its sessions,
    /// dead panes stay for their exit status, history is bounded.
    var serverOptions: [[String]] {
        [
            ["set-option", "-g", "exit-empty", "off"],
            ["set-option", "-g", "exit-unattached", "off"],
            ["set-option", "-g", "history-limit", String(historyLimit)],
            ["set-option", "-wg", "remain-on-exit", "on"],
        ]
    }

    /// The config file a server started by mcrun reads; the systemd unit may point at it too.
    public func writeConfig() throws(MCRunError) {
        let text = serverOptions.map { $0.joined(separator: " ") }.joined(separator: "\n") + "\n"
        let fd = open(configPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .internalError("cannot write \(configPath): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        _ = text.utf8CString.withUnsafeBytes { write(fd, $0.baseAddress, $0.count - 1) }
    }

    /// Runs one tmux command sequence: each inner array is one command, joined with `;`.
    public func run(_ commands: [[String]], stdin: [UInt8]? = nil, environment: [String]? = nil) throws -> Subprocess.Result {
        var argv = [binary, "-S", socketPath, "-f", configPath]
        if !startsServer { argv.append("-N") }
        for (i, command) in commands.enumerated() {
            if i > 0 { argv.append(";") }
            argv += command
        }
        return try Subprocess.run(argv, stdin: stdin, environment: environment, timeoutMilliseconds: timeoutMilliseconds)
    }

    @discardableResult
    func check(_ commands: [[String]], stdin: [UInt8]? = nil, environment: [String]? = nil) throws -> String {
        let result = try run(commands, stdin: stdin, environment: environment)
        guard result.succeeded else {
            throw Failure(
                arguments: commands.first ?? [],
                message: result.timedOut ? "timed out after \(timeoutMilliseconds) ms" : result.stderrText, timedOut: result.timedOut)
        }
        return result.stdoutText
    }

    static func isNoServer(_ text: String) -> Bool {
        text.contains("no server running") || text.contains("error connecting to") || text.contains("No such file or directory")
            // A server that exits while it is being asked.
            || text.contains("server exited unexpectedly") || text.contains("lost server")
    }

    // MARK: Operators

    /// Lets `users` (the members of the state directory's group) connect and watch read-only:
    /// the socket is opened to its group (tmux creates it 0600, and recreates it so after a
    /// restart), and each user missing from tmux's access list (tmux 3.3 `server-access`)
    /// is added read-only. Returns the users added now; removing a user from the group
    /// takes effect when the server restarts (or with `server-access -d USER`).
    public func grantReadOnly(_ users: [String]) throws -> [String] {
        guard !users.isEmpty else { return [] }
        var info = stat()
        if stat(socketPath, &info) == 0, info.st_mode & 0o060 != 0o060 {
            chmod(socketPath, (info.st_mode & 0o7777) | 0o060)
        }
        let listed = Set(try check([["server-access", "-l"]]).split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
        let missing = users.filter { !listed.contains($0) }
        for user in missing { try check([["server-access", "-a", "-r", user]]) }
        return missing
    }

    // MARK: Sessions

    public struct Created: Sendable {
        public var sessionID: String
        public var paneID: String
        public var panePID: Int32
    }

    /// Creates a detached session whose pane runs `command` directly (argv of two or more
    /// words, so tmux does not wrap it in `sh -c`), then runs `then` in the same tmux
    /// invocation, before the pane's first output is read.
    public func newSession(name: String, cwd: String, command: [String], then: [[String]] = []) throws -> Created {
        precondition(command.count >= 2, "a one-word pane command would be run through sh -c")
        let create =
            [
                "new-session", "-d", "-s", name, "-c", cwd, "-x", "200", "-y", "50",
                "-P", "-F", "#{session_id}\t#{pane_id}\t#{pane_pid}", "--",
            ] + command
        let out = try check(serverOptions + [create] + then)
        let fields = out.trimmingWhitespace().split(separator: "\t").map(String.init)
        guard fields.count == 3, let pid = Int32(fields[2]) else {
            throw Failure(arguments: ["new-session"], message: "unexpected reply \(out.debugDescription)")
        }
        return Created(sessionID: fields[0], paneID: fields[1], panePID: pid)
    }

    /// Removes a session; a session that is already gone is not an error.
    public func killSession(_ target: String) throws {
        let result = try run([["kill-session", "-t", target]])
        if result.succeeded { return }
        let text = result.stderrText
        if text.contains("can't find session") || text.contains("no such session") || Self.isNoServer(text) { return }
        throw Failure(arguments: ["kill-session"], message: text)
    }

    /// An exact-name target: tmux otherwise matches prefixes and patterns.
    public static func exact(_ sessionName: String) -> String { "=" + sessionName }

    // MARK: Panes

    public struct Pane: Sendable, Equatable {
        public var sessionID: String
        public var sessionName: String
        public var paneID: String
        public var panePID: Int32
        public var dead: Bool
        public var deadStatus: Int?
        public var deadSignal: Int?
        /// Last output in the window, seconds since the epoch.
        public var activity: Double?

        public var hasExitStatus: Bool { dead && (deadStatus != nil || deadSignal != nil) }
    }

    public struct Snapshot: Sendable {
        /// False when no server is running on the socket: no panes, and no error.
        public let serverRunning: Bool
        public let panes: [Pane]
        // Indexed once: callers look up every runtime's pane in one pass.
        private let byID: [String: Int]
        private let bySession: [String: Int]

        public init(serverRunning: Bool, panes: [Pane]) {
            self.serverRunning = serverRunning
            self.panes = panes
            var byID: [String: Int] = [:]
            var bySession: [String: Int] = [:]
            for (i, pane) in panes.enumerated() {
                byID[pane.paneID] = byID[pane.paneID] ?? i
                bySession[pane.sessionName] = bySession[pane.sessionName] ?? i
            }
            self.byID = byID
            self.bySession = bySession
        }

        public func pane(id: String?) -> Pane? { id.flatMap { byID[$0] }.map { panes[$0] } }

        /// A runtime's pane: by its recorded id only while that pane is still in the
        /// runtime's session (ids are reused after a server restart), else by session name.
        public func pane(of runtime: Runtime) -> Pane? {
            if let byID = pane(id: runtime.paneID), byID.sessionName == runtime.sessionName { return byID }
            return pane(sessionName: runtime.sessionName)
        }
        public func pane(sessionName: String) -> Pane? { bySession[sessionName].map { panes[$0] } }
    }

    static let paneFormat =
        "#{session_id}\t#{pane_id}\t#{pane_pid}\t#{pane_dead}\t#{pane_dead_status}\t#{pane_dead_signal}\t#{window_activity}\t#{session_name}"

    /// Every pane on the server in one call, whatever the number of runtimes.
    public func snapshot() throws -> Snapshot {
        let result = try run([["list-panes", "-a", "-F", Self.paneFormat]])
        guard result.succeeded else {
            if Self.isNoServer(result.stderrText) { return Snapshot(serverRunning: false, panes: []) }
            // A running server with no sessions has no current target to list from.
            if result.stderrText.contains("no current target") { return Snapshot(serverRunning: true, panes: []) }
            throw Failure(arguments: ["list-panes"], message: result.timedOut ? "timed out" : result.stderrText)
        }
        // Split as bytes, not as Characters: one line per pane, every ps and reconcile pass.
        let panes = result.stdout.split(separator: UInt8(ascii: "\n")).compactMap { line -> Pane? in
            let f = line.split(separator: UInt8(ascii: "\t"), maxSplits: 7, omittingEmptySubsequences: false).map {
                String(decoding: $0, as: UTF8.self)
            }
            guard f.count == 8, let pid = Int32(f[2]) else { return nil }
            return Pane(
                sessionID: f[0], sessionName: f[7], paneID: f[1], panePID: pid, dead: f[3] == "1",
                deadStatus: Int(f[4]), deadSignal: Int(f[5]), activity: Double(f[6]))
        }
        return Snapshot(serverRunning: true, panes: panes)
    }

    /// When the running server started (`/proc` clock ticks since boot, as agents' start
    /// times are kept); nil when none runs or it cannot be read. A server younger than an
    /// agent is not the one that agent ran in.
    public func serverStartTime() -> UInt64? {
        guard let result = try? run([["display-message", "-p", "#{pid}"]]), result.succeeded,
            let pid = Int32(result.stdoutText.trimmingWhitespace())
        else { return nil }
        return ProcFS.stat(pid)?.startTime
    }

    /// One pane's state; nil when it (or the server) is gone.
    public func pane(_ paneID: String) throws -> Pane? {
        let result = try run([["display-message", "-p", "-t", paneID, Self.paneFormat]])
        guard result.succeeded else { return nil }
        let f = result.stdoutText.trimmingNewline().split(separator: "\t", maxSplits: 7, omittingEmptySubsequences: false).map(String.init)
        guard f.count == 8, let pid = Int32(f[2]) else { return nil }
        return Pane(
            sessionID: f[0], sessionName: f[7], paneID: f[1], panePID: pid, dead: f[3] == "1",
            deadStatus: Int(f[4]), deadSignal: Int(f[5]), activity: Double(f[6]))
    }

    /// The visible screen plus up to `history` lines above it, trailing blank lines removed.
    public func capture(_ paneID: String, history: Int = 0) -> String? {
        guard let result = try? run([["capture-pane", "-p", "-J", "-t", paneID, "-S", String(-history)]]), result.succeeded else {
            return nil
        }
        var lines = result.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingTrailingSpaces() }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        return lines.joined(separator: "\n")
    }

    /// The visible screens of several panes in one tmux call, by pane id. A marker line
    /// printed before each capture tells them apart; a pane that vanished meanwhile is
    /// captured alone (tmux stops a command sequence at its first failure).
    ///
    /// Each capture reaches `history` lines above the screen: when a pane dies, tmux scrolls
    /// its last screen up to print "Pane is dead" below it.
    public func captureAll(_ paneIDs: [String], history: Int = 50) -> [String: String] {
        guard paneIDs.count > 1 else {
            return paneIDs.first.flatMap { id in capture(id, history: history).map { [id: $0.trimmingLeadingBlankLines()] } } ?? [:]
        }
        let marker = "\u{1}mcrun-capture\u{1}"
        var commands: [[String]] = []
        for id in paneIDs {
            commands.append(["display-message", "-p", marker + id])
            commands.append(["capture-pane", "-p", "-J", "-t", id, "-S", String(-history)])
        }
        var screens: [String: String] = [:]
        if let result = try? run(commands), result.succeeded {
            var current: String?
            var lines: [Substring] = []
            func flush() {
                guard let current else { return }
                var kept = lines.map { $0.trimmingTrailingSpaces() }
                while let last = kept.last, last.isEmpty { kept.removeLast() }
                while let first = kept.first, first.isEmpty { kept.removeFirst() }
                screens[current] = kept.joined(separator: "\n")
            }
            for line in result.stdoutText.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix(marker) {
                    flush()
                    current = String(line.dropFirst(marker.count))
                    lines = []
                } else {
                    lines.append(line)
                }
            }
            flush()
        }
        for id in paneIDs where screens[id] == nil {
            if let screen = capture(id, history: history) { screens[id] = screen.trimmingLeadingBlankLines() }
        }
        return screens
    }

    /// Types `bytes` into the pane as one bracketed paste (the agent sees a paste, tmux
    /// interprets no key names), then presses Enter if asked. `marker` (`KEY=VALUE`) goes
    /// into the tmux client's environment, so a client its sender left behind can be found.
    public func paste(_ bytes: [UInt8], into paneID: String, buffer: String, enter: Bool, marker: String? = nil) throws {
        var commands: [[String]] = [
            ["load-buffer", "-b", buffer, "-"],
            ["paste-buffer", "-p", "-d", "-r", "-b", buffer, "-t", paneID],
        ]
        if enter { commands.append(["send-keys", "-t", paneID, "Enter"]) }
        try check(commands, stdin: bytes, environment: marker.map { Subprocess.currentEnvironment() + [$0] })
    }

    /// Sends one tmux key (e.g. `C-c`, `Escape`) to the pane.
    public func sendKey(_ key: String, to paneID: String) throws {
        try check([["send-keys", "-t", paneID, key]])
    }
}

extension String {
    func trimmingNewline() -> String { hasSuffix("\n") ? String(dropLast()) : self }

    func trimmingLeadingBlankLines() -> String {
        var rest = Substring(self)
        while rest.hasPrefix("\n") { rest = rest.dropFirst() }
        return String(rest)
    }
}

extension Substring {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while let last = s.last, last == " " { s.removeLast() }
        return String(s)
    }
}
