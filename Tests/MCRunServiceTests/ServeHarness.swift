import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport

/// A `mcrun serve` child of the test, with its log in a file (a pipe nobody drains would
/// block it), killed at the scratch's cleanup whatever state the test left it in.
final class ServeProcess: @unchecked Sendable {
    let pid: pid_t
    let logPath: String
    private var reaped = false

    /// `wrapper` runs first and must exec its arguments (a seccomp filter, for instance).
    init(
        _ scratch: Scratch, arguments: [String] = [], environment extra: [String: String] = [:], log: String = "serve.log",
        wrapper: [String] = []
    ) throws {
        logPath = scratch.path(log)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
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
        let argv = wrapper + [Scratch.mcrunPath, "serve", "--state-dir", scratch.stateDir] + arguments
        let env =
            scratch.processEnvironment.filter { entry in !extra.keys.contains { entry.hasPrefix($0 + "=") } }
            + extra.map { "\($0.key)=\($0.value)" }
        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup($0) } + [nil]
        defer {
            for pointer in cArgv + cEnv { free(pointer) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attributes, cArgv, cEnv)
        guard rc == 0 else { throw ScratchError("cannot start mcrun serve: \(String(cString: strerror(rc)))") }
        self.pid = pid
        scratch.onCleanup { [self] in
            kill(pid, SIGCONT)
            kill(pid, SIGKILL)
            _ = waitForExit(timeout: 5)
        }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The wait status once it has exited, nil while it runs.
    func exitStatus() -> Int32? {
        if reaped { return 0 }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid {
            reaped = true
            return status
        }
        return nil
    }

    func waitForExit(timeout: Double) -> Int32? {
        var status: Int32?
        try? waitUntil("serve to exit", timeout: timeout) {
            status = exitStatus()
            return status != nil
        }
        return status
    }

    /// Serve is ready once its nudge socket exists and its first pass is logged.
    func waitUntilReady(timeout: Double = 15) throws {
        try waitUntil("mcrun serve to finish its first pass; log:\n\(log)", timeout: timeout) {
            if let status = exitStatus() { throw ScratchError("mcrun serve exited (\(status)): \(log)") }
            return log.contains("event=ready")
        }
    }
}

extension Scratch {
    /// Starts `COMMAND` for `ticket` and returns the agent's PID.
    func startAgent(_ ticket: String, _ command: [String]) throws -> Int32 {
        // --json before the `--`: after it, it would be an argument of the agent.
        let result = try mcrun(["start", ticket, "--json", "--"] + command)
        let json = try? JSONDecoder().decode(JSONValue.self, from: Data(result.stdout))
        guard result.status == 0, let pid = json?.at("runtime.pid")?.intValue else {
            throw ScratchError("start \(ticket) failed: \(result.stderrText)")
        }
        return Int32(pid)
    }

    func runtimes(_ ticket: String) throws -> [Runtime] {
        try context().ledger.episodes(ticket: ticket).reversed()
    }

    func ticketRow(_ ticket: String) throws -> Ticket? {
        try context().ledger.ticket(id: ticket)
    }

    func events(_ kind: String, ticket: String? = nil) throws -> [Event] {
        var events: [Event] = []
        let ledger = try context().ledger
        while true {
            let batch = try ledger.events(after: events.last?.id ?? 0, ticket: ticket, kinds: [kind])
            events += batch
            if batch.isEmpty { return events }
        }
    }
}

func isAlive(_ pid: Int32) -> Bool {
    guard let stat = ProcFS.stat(pid) else { return false }
    return !stat.hasExited
}
