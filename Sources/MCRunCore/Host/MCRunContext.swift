import Glibc

/// What every command and the service work with: one state directory, its ledger and its
/// tmux server, and who is acting.
public final class MCRunContext: Sendable {
    public let stateDirectory: StateDirectory
    public let ledger: Ledger
    public let tmux: TmuxServer
    public let environment: [String: String]
    /// Recorded on every event: who asked for the change.
    public let actor: String
    /// The `mcrun` binary the pane runs as its shim.
    public let executable: String

    /// For commands that write: creates the state directory and the ledger when they are new.
    /// `recreateLedger` accepts that a used directory's ledger is lost and starts an empty one.
    /// Another user's directory is refused (exit 5, `wrong_user`) unless this is root, which
    /// acts as its owner (see `StateDirectory.checkAccess(reading:)`).
    public convenience init(stateDirectory: StateDirectory, environment: [String: String], actor: String? = nil, recreateLedger: Bool = false)
        throws(MCRunError)
    {
        try stateDirectory.checkAccess(reading: false)
        try stateDirectory.prepare()
        let ledger = try Ledger(directory: stateDirectory, busyTimeout: Ledger.defaultBusyTimeout(environment: environment), recreate: recreateLedger)
        self.init(stateDirectory: stateDirectory, ledger: ledger, environment: environment, actor: actor)
        // What was done while the ledger could not be written is recorded by the next writer.
        if !IntentReserve(directory: stateDirectory).pending().isEmpty { Ending(context: self).replayIntents() }
    }

    /// For commands that only read (`ps`, `show`, `logs`, `events`, `harvest`): creates nothing,
    /// and its ledger takes no write lock. Members of the directory's group may read another
    /// user's directory.
    public convenience init(readingFrom stateDirectory: StateDirectory, environment: [String: String], actor: String? = nil) throws(MCRunError) {
        try stateDirectory.checkAccess(reading: true)
        let ledger = try Ledger(readingFrom: stateDirectory, busyTimeout: Ledger.defaultBusyTimeout(environment: environment))
        self.init(stateDirectory: stateDirectory, ledger: ledger, environment: environment, actor: actor)
    }

    init(stateDirectory: StateDirectory, ledger: Ledger, environment: [String: String], actor: String?) {
        self.stateDirectory = stateDirectory
        self.environment = environment
        self.ledger = ledger
        tmux = TmuxServer(directory: stateDirectory, environment: environment)
        self.actor = actor ?? environment["MCRUN_ACTOR"] ?? Self.defaultActor(environment)
        executable = Self.executable(environment: environment)
    }

    /// The `mcrun` binary: `MCRUN_BIN`, else this process's own executable.
    public static func executable(environment: [String: String]) -> String {
        environment["MCRUN_BIN"] ?? selfExecutable() ?? "mcrun"
    }

    public static func processEnvironment() -> [String: String] {
        var env: [String: String] = [:]
        for entry in Subprocess.currentEnvironment() {
            guard let eq = entry.firstIndex(of: "=") else { continue }
            let key = String(entry[..<eq])
            if env[key] == nil { env[key] = String(entry[entry.index(after: eq)...]) }
        }
        return env
    }

    static func defaultActor(_ environment: [String: String]) -> String {
        let user =
            environment["USER"] ?? environment["LOGNAME"] ?? getpwuid(getuid()).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? "uid \(getuid())"
        return "\(user) via cli (pid \(getpid()))"
    }

    static func selfExecutable() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, Int(PATH_MAX))
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A random 128-bit hex string for episode nonces.
    public static func randomNonce() -> String {
        var rng = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let s = String(rng.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }.joined()
    }
}
