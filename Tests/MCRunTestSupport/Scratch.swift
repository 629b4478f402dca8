import Foundation
import Glibc
public import MCRunCore

/// A private mcrun world for one test: its own state directory (so its own ledger and its
/// own tmux server on a private socket), the real `mcrun` binary, and a cleanup that kills
/// every process the test started, whatever state it failed in.
public final class Scratch: @unchecked Sendable {
    public let directory: String
    public let stateDir: String
    /// Extra environment for every mcrun call of this scratch.
    public var environment: [String: String]
    private var cleanups: [() -> Void] = []

    /// The build directory holding the test bundle, `mcrun`, `mcrun-pane-log` and `mcrun-shim`.
    public static let binDirectory: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = (exe as NSString).deletingLastPathComponent
        // The test runner may live inside an .xctest bundle directory.
        while !FileManager.default.isExecutableFile(atPath: dir + "/mcrun"), dir.count > 1 {
            dir = (dir as NSString).deletingLastPathComponent
        }
        return dir
    }()

    public static var mcrunPath: String { binDirectory + "/mcrun" }

    /// The repository root (for `hooks/`), found above the build directory.
    public static let packageRoot: String = {
        var dir = binDirectory
        while dir.count > 1 {
            if FileManager.default.fileExists(atPath: dir + "/Package.swift") { return dir }
            dir = (dir as NSString).deletingLastPathComponent
        }
        return FileManager.default.currentDirectoryPath
    }()

    /// Short paths under /tmp: tmux sockets must fit in 108 bytes.
    public init(name: String = "t") throws {
        var template = Array("/tmp/mcrun-\(name.prefix(12))-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ScratchError("mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        directory = String(cString: made)
        stateDir = directory + "/state"
        environment = [
            "MCRUN_STATE_DIR": stateDir,
            "MCRUN_HOOKS_DIR": Scratch.packageRoot + "/hooks",
            "MCRUN_ACTOR": "test",
        ]
    }

    /// Runs LIFO at `cleanup()`, before the scratch's own teardown.
    public func onCleanup(_ body: @escaping () -> Void) { cleanups.append(body) }

    /// Mounts a 4 MiB tmpfs as the state directory (root only), so a test can fill the disk
    /// mcrun writes to; the tmux server and the mount go at cleanup.
    public func mountSmallStateDisk() throws {
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        let mount = try Subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", stateDir])
        guard mount.succeeded else { throw ScratchError("mount: \(mount.stderrText)") }
        onCleanup {
            _ = try? self.tmux(["kill-server"])
            _ = try? Subprocess.run(["umount", "-l", self.stateDir])
        }
    }

    /// Kills every process that carries this scratch's state directory in its environment
    /// (agents, leftovers), the tmux server, then removes the files.
    public func cleanup() {
        for body in cleanups.reversed() { body() }
        cleanups.removeAll()
        let tmux = ["tmux", "-S", stateDir + "/tmux/sock", "kill-server"]
        _ = try? Subprocess.run(tmux, timeoutMilliseconds: 5000)
        Scratch.killProcesses(withEnvironment: "MCRUN_STATE_DIR=\(stateDir)")
        // Runtime cgroups (created where this user may write the cgroup2 tree) go with the
        // state directory, with anything a failed test left in them.
        CgroupPlacement.removeSubtree(stateDirectory: stateDir)
        try? FileManager.default.removeItem(atPath: directory)
    }

    public static func killProcesses(withEnvironment marker: String) {
        let needle = Array(marker.utf8)
        for pid in ProcFS.allPIDs() where pid != getpid() {
            if let env = ProcFS.environ(pid), env.contains(where: { $0 == needle }) { kill(pid, SIGKILL) }
        }
    }

    public var processEnvironment: [String] {
        var env = ProcessInfo.processInfo.environment
        for key in ["MCRUN_TICKET", "MCRUN_EPISODE", "MCRUN_NONCE", "MCRUN_RUNTIME_ID", "TMUX", "TMUX_PANE", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            env[key] = nil
        }
        for (k, v) in environment { env[k] = v }
        return env.map { "\($0.key)=\($0.value)" }
    }

    /// Runs `mcrun ARGS` to completion.
    @discardableResult
    public func mcrun(_ args: [String], stdin: [UInt8]? = nil, timeoutMilliseconds: Int = 30_000, cwd: String? = nil) throws -> Subprocess.Result {
        try Subprocess.run(
            [Scratch.mcrunPath] + args, stdin: stdin, environment: processEnvironment, workingDirectory: cwd ?? directory,
            timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Runs `mcrun ARGS --json` and parses the one object it must print.
    public func mcrunJSON(_ args: [String], stdin: [UInt8]? = nil, timeoutMilliseconds: Int = 30_000) throws -> (result: Subprocess.Result, json: JSONValue) {
        var args = args
        // Options go before the `--` that starts an agent's command.
        args.insert("--json", at: args.firstIndex(of: "--") ?? args.endIndex)
        let result = try mcrun(args, stdin: stdin, timeoutMilliseconds: timeoutMilliseconds)
        let lines = result.stdoutText.split(separator: "\n")
        guard lines.count == 1, let json = try? JSONDecoder().decode(JSONValue.self, from: Data(lines[0].utf8)) else {
            throw ScratchError(
                "mcrun \(args.joined(separator: " ")) --json did not print exactly one JSON object: stdout=\(result.stdoutText.debugDescription) stderr=\(result.stderrText.debugDescription)"
            )
        }
        return (result, json)
    }

    /// Starts `mcrun ARGS` without waiting (for races and long-running commands).
    public func spawnMcrun(_ args: [String]) throws -> Subprocess.Child {
        try Subprocess.spawn([Scratch.mcrunPath] + args, environment: processEnvironment, workingDirectory: directory)
    }

    /// A direct handle on this scratch's ledger and tmux server, for assertions.
    public func context() throws -> MCRunContext {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        return try MCRunContext(stateDirectory: StateDirectory(path: stateDir), environment: env, actor: "test")
    }

    public func tmux(_ args: [String]) throws -> Subprocess.Result {
        try Subprocess.run(["tmux", "-S", stateDir + "/tmux/sock"] + args, timeoutMilliseconds: 10_000)
    }

    public func path(_ name: String) -> String { directory + "/" + name }

    /// Writes a file through a close-on-exec descriptor: a plain write can leak its
    /// descriptor into a process spawned at that moment (a tmux server lives on), and exec
    /// of the file then fails with ETXTBSY.
    public func write(_ name: String, _ text: String, mode: Int = 0o644) throws -> String {
        let p = path(name)
        let fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw ScratchError("cannot create \(p): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw ScratchError("cannot write \(p)")
        }
        fchmod(fd, mode_t(mode))
        return p
    }

    /// An executable script in the scratch directory.
    public func script(_ name: String, _ text: String) throws -> String {
        try write(name, text, mode: 0o755)
    }
}

public struct ScratchError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Polls `condition` until it holds or `timeout` passes, then fails with `what`. The only
/// way tests wait: on a condition, with a bound and a message, never a bare sleep.
public func waitUntil(
    _ what: @autoclosure () -> String, timeout: Double = 10, every interval: Double = 0.01, _ condition: () throws -> Bool
) throws {
    let deadline = Instant.now + .nanoseconds(Int64(timeout * 1e9))
    while true {
        if try condition() { return }
        if deadline.hasPassed { throw ScratchError("timed out after \(timeout)s waiting for: \(what())") }
        usleep(useconds_t(interval * 1e6))
    }
}

/// Asserts that `condition` stays false for the whole of `duration`: the way to prove that
/// something does not happen (no third episode, no relaunch).
public func holdsFalse(_ what: @autoclosure () -> String, for duration: Double, every interval: Double = 0.02, _ condition: () throws -> Bool) throws {
    let deadline = Instant.now + .nanoseconds(Int64(duration * 1e9))
    while !deadline.hasPassed {
        if try condition() { throw ScratchError("happened but must not: \(what())") }
        usleep(useconds_t(interval * 1e6))
    }
}

/// `waitUntil` for async tests: polls without holding a thread of the cooperative pool,
/// which the tasks under test need.
public func asyncWaitUntil(
    _ what: @autoclosure () -> String, timeout: Double = 10, every interval: Double = 0.01, _ condition: () throws -> Bool
) async throws {
    let deadline = Instant.now + .nanoseconds(Int64(timeout * 1e9))
    while true {
        if try condition() { return }
        if deadline.hasPassed { throw ScratchError("timed out after \(timeout)s waiting for: \(what())") }
        try await Task.sleep(for: .nanoseconds(Int64(interval * 1e9)))
    }
}

/// `holdsFalse` for async tests.
public func asyncHoldsFalse(
    _ what: @autoclosure () -> String, for duration: Double, every interval: Double = 0.02, _ condition: () throws -> Bool
) async throws {
    let deadline = Instant.now + .nanoseconds(Int64(duration * 1e9))
    while !deadline.hasPassed {
        if try condition() { throw ScratchError("happened but must not: \(what())") }
        try await Task.sleep(for: .nanoseconds(Int64(interval * 1e9)))
    }
}

extension JSONValue {
    /// `json["runtime"]?["pid"]` style access with a dotted path: `json.at("runtime.pid")`.
    public func at(_ path: String) -> JSONValue? {
        var node: JSONValue? = self
        for key in path.split(separator: ".") { node = node?[String(key)] }
        return node
    }

    public var doubleValue: Double? {
        switch self {
        case .double(let d): d
        case .int(let i): Double(i)
        default: nil
        }
    }

}
