import Foundation
import Testing

/// hooks/pane-log attached to a real pane with `tmux pipe-pane`, on a
/// private tmux server, as mcrun attaches it.
///
/// tmux is run with posix_spawn and waitpid rather than Foundation's Process:
/// the tmux server is a daemon that outlives the client that started it, and
/// Process does not see such a client finish.
@Suite("hooks/pane-log under tmux pipe-pane")
final class PaneLogHookTests {
    let scratch: URL
    let socket: String

    init() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pane-hook-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        socket = scratch.appendingPathComponent("tmux.sock").path
    }

    deinit {
        // Normally the test has ended the server already.
        server.kill()
        try? FileManager.default.removeItem(at: scratch)
    }

    static let hook = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("hooks/pane-log")

    var server: TmuxServer { TmuxServer(socket: socket, conf: "/dev/null", scratch: scratch) }

    @Test func capturesAReadableTranscriptOfThePane() async throws {
        let permissions = try FileManager.default.attributesOfItem(atPath: Self.hook.path)[.posixPermissions] as? Int
        #expect(permissions == 0o755, "tmux executes the hook directly")
        let log = scratch.appendingPathComponent("pane.log").path
        let go = scratch.appendingPathComponent("go").path
        // The pane waits until the pipe is attached, then draws like an agent.
        let script = """
            while [ ! -e \(shellQuoted(go)) ]; do sleep 0.02; done
            printf '\\033]0;agent\\007\\033[1;32mstarting\\033[0m\\n'
            for i in 1 2 3 4 5 6 7 8 9; do printf '\\r\\342\\240\\213 Working %s' $i; done
            printf '\\r\\033[2Kfinished\\n'
            sleep 10
            """
        try await server.run(["new-session", "-d", "-s", "agent", "-x", "80", "-y", "24", "sh", "-c", script])
        let binary = try PaneLogProcess.executable().path
        let command = "MCRUN_PANE_LOG_BIN=\(shellQuoted(binary)) exec \(shellQuoted(Self.hook.path)) --max-bytes 1M \(shellQuoted(log))"
        try await server.run(["pipe-pane", "-o", "-t", "agent", command])
        try #require(FileManager.default.createFile(atPath: go, contents: nil))

        let expected = "starting\nfinished\n"
        let seen = await eventually(timeout: .seconds(10)) {
            FileManager.default.contents(atPath: log).map { String(decoding: $0, as: UTF8.self) } == expected
        }
        let actual = FileManager.default.contents(atPath: log).map { String(decoding: $0, as: UTF8.self) }
        #expect(seen, "the transcript should be \(String(reflecting: expected)), it is \(String(reflecting: actual))")

        // Ending the server closes the pipe: the pump sees EOF and exits.
        try await server.run(["kill-server"])
    }
}

/// Starts `argv` (looked up in PATH) with /dev/null for stdin and stderr,
/// stdout written to `output` (created or truncated), and an empty signal mask.
func spawn(_ argv: [String], output: String = "/dev/null") throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var mask = sigset_t()
    sigemptyset(&mask)
    posix_spawnattr_setsigmask(&attributes, &mask)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
    let arguments = argv.map { strdup($0) } + [nil]
    let environment = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for pointer in arguments + environment { free(pointer) }
    }
    var pid: pid_t = 0
    let result = posix_spawnp(&pid, argv[0], &actions, &attributes, arguments, environment)
    guard result == 0 else { throw SpawnFailed(command: argv[0], code: result) }
    return pid
}

struct SpawnFailed: Error, CustomStringConvertible {
    let command: String
    let code: Int32
    var description: String { "cannot start \(command): \(String(cString: strerror(code)))" }
}

/// The exit status of `pid` once it has exited (128 + n if killed by signal
/// n), or nil while it runs.
func reap(_ pid: pid_t, blocking: Bool) -> Int32? {
    var status: Int32 = 0
    var result: pid_t
    repeat {
        result = waitpid(pid, &status, blocking ? 0 : WNOHANG)
    } while result < 0 && errno == EINTR
    guard result == pid else { return nil }
    let signal = status & 0x7F
    return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
}
