import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A child started with posix_spawn(3): argv only (no shell unless the argv names one),
/// stdin from /dev/null, stdout and stderr to files, a clean signal state, and a given
/// environment. Waiting polls waitpid(WNOHANG) against a deadline, so a caller can give up
/// on a hung child instead of hanging with it.
final class ChildProcess: Sendable {
    let pid: pid_t
    let arguments: [String]
    /// Set once reaped: waiting on the PID again could reap an unrelated child that reused it.
    private let reapedStatus = Mutex<Int32?>(nil)

    private init(pid: pid_t, arguments: [String]) {
        self.pid = pid
        self.arguments = arguments
    }

    static func spawn(
        _ arguments: [String],
        environment: [String: String],
        standardOutput: String,
        standardError: String?
    ) throws(HarnessError) -> ChildProcess {
        precondition(!arguments.isEmpty)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, standardOutput, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        if let standardError {
            posix_spawn_file_actions_addopen(
                &actions, STDERR_FILENO, standardError, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        } else {
            posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO)
        }

        // The test process may block or ignore signals (SIGPIPE); a child must not inherit that.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv + envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw HarnessError("cannot start \(arguments[0]): \(String(cString: strerror(result)))")
        }
        return ChildProcess(pid: pid, arguments: arguments)
    }

    /// The wait(2) status once the child has exited (and is reaped), nil while it runs.
    func exitStatus() -> Int32? {
        reapedStatus.withLock { reaped in
            if let reaped { return reaped }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
            reaped = status
            return status
        }
    }

    /// Waits until the child exits or the deadline passes; nil means it is still running.
    func waitForExit(timeout: Duration) async -> Int32? {
        try? await poll(until: .now + timeout) { exitStatus() }
    }

    /// The same, for callers that cannot suspend (cleanups).
    func waitForExitBlocking(timeout: Duration) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        var interval = 1_000 as useconds_t
        while true {
            if let status = exitStatus() { return status }
            if ContinuousClock.now >= deadline { return nil }
            usleep(interval)
            interval = min(interval * 2, 50_000)
        }
    }
}

/// Calls `probe` until it returns a value or the deadline passes, backing off from 1 ms to
/// 50 ms so short waits stay short and long ones stay cheap. Throws `TimedOut` at the deadline.
func poll<T>(until deadline: ContinuousClock.Instant, _ probe: () async throws -> T?) async throws -> T {
    var interval = Duration.milliseconds(1)
    while true {
        if let value = try await probe() { return value }
        if ContinuousClock.now >= deadline { throw TimedOut() }
        try await Task.sleep(for: interval)
        interval = min(interval * 2, .milliseconds(50))
    }
}

struct TimedOut: Error {}

/// A failure of the test harness itself, with what to look at.
public struct HarnessError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

extension Int32 {
    /// A wait(2) status in words: "exit 1", "signal 9".
    var waitStatusDescription: String {
        let signal = self & 0x7f
        return signal == 0 ? "exit \((self >> 8) & 0xff)" : "signal \(signal)"
    }

    var exitedSuccessfully: Bool { self & 0x7f == 0 && (self >> 8) & 0xff == 0 }
}
