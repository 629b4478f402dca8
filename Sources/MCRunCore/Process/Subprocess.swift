import CLinux
import Glibc

/// Runs a program from an argv array: no shell ever sees an argument. Output is collected
/// through pipes, input is written from memory, and a deadline kills a hung child.
public enum Subprocess {
    public struct Result: Sendable {
        public var status: Int32
        /// Set when the child was killed by a signal.
        public var signal: Int32?
        public var stdout: [UInt8]
        public var stderr: [UInt8]
        public var timedOut: Bool

        public var succeeded: Bool { status == 0 && signal == nil && !timedOut }
        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        public var stderrText: String { String(decoding: stderr, as: UTF8.self).trimmingWhitespace() }
    }

    public struct SpawnError: Error, CustomStringConvertible {
        public var program: String
        public var errno: Int32
        public var description: String { "cannot run \(program): \(String(cString: strerror(errno)))" }
    }

    /// Signals whose disposition is reset in the child: a parent that ignores SIGTERM or
    /// SIGPIPE for its own reasons must not hand that on to hooks and agents.
    static let resetSignals: [Int32] = [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM]

    public static func run(
        _ argv: [String],
        stdin input: [UInt8]? = nil,
        environment: [String]? = nil,
        workingDirectory: String? = nil,
        timeoutMilliseconds: Int = 10_000,
        newSession: Bool = false
    ) throws -> Result {
        precondition(!argv.isEmpty)
        let child = try spawn(argv, environment: environment, workingDirectory: workingDirectory, newSession: newSession)
        return child.collect(stdin: input, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// How long a SIGKILLed child may take to die before it is given up unreaped: only a
    /// process stuck in the kernel outlasts SIGKILL, and no wait here may be endless.
    static let killGraceMilliseconds = 5_000

    /// A started child whose pipes the caller drains with `collect`.
    public struct Child: Sendable {
        public let pid: Int32
        let stdinFD: Int32
        let stdoutFD: Int32
        let stderrFD: Int32
        /// Spawned in its own session, so its pid is also its process group's id.
        let newSession: Bool

        /// Feeds stdin, drains stdout and stderr, and reaps the child. The deadline covers the
        /// child's whole life, not just its output: a child that closed its pipes and lives on
        /// is killed at the deadline too (with its process group when it has its own session),
        /// and reported `timedOut`.
        public func collect(stdin input: [UInt8]?, timeoutMilliseconds: Int) -> Result {
            var out: [UInt8] = []
            var err: [UInt8] = []
            var inputOffset = 0
            var inFD = stdinFD
            if input == nil || input!.isEmpty {
                close(inFD)
                inFD = -1
            }
            var outFD = stdoutFD
            var errFD = stderrFD
            let deadline = Instant.after(milliseconds: timeoutMilliseconds)
            var timedOut = false
            var buffer = [UInt8](repeating: 0, count: 65536)
            while outFD >= 0 || errFD >= 0 || inFD >= 0 {
                var fds: [pollfd] = []
                if inFD >= 0 { fds.append(pollfd(fd: inFD, events: Int16(POLLOUT), revents: 0)) }
                if outFD >= 0 { fds.append(pollfd(fd: outFD, events: Int16(POLLIN), revents: 0)) }
                if errFD >= 0 { fds.append(pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)) }
                let remaining = deadline.remainingMilliseconds
                if remaining <= 0 {
                    timedOut = true
                    break
                }
                let r = poll(&fds, nfds_t(fds.count), Int32(clamping: remaining))
                if r < 0 {
                    if errno == EINTR { continue }
                    break
                }
                for p in fds where p.revents != 0 {
                    if p.fd == inFD, let input {
                        let n = input.withUnsafeBytes { raw in
                            write(inFD, raw.baseAddress! + inputOffset, min(raw.count - inputOffset, 65536))
                        }
                        if n > 0 { inputOffset += n }
                        if n < 0 && errno != EINTR && errno != EAGAIN || inputOffset >= input.count {
                            close(inFD)
                            inFD = -1
                        }
                    } else if p.fd == outFD || p.fd == errFD {
                        let n = buffer.withUnsafeMutableBytes { read(p.fd, $0.baseAddress, $0.count) }
                        if n > 0 {
                            if p.fd == outFD { out.append(contentsOf: buffer[0..<n]) } else { err.append(contentsOf: buffer[0..<n]) }
                        } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                            close(p.fd)
                            if p.fd == outFD { outFD = -1 } else { errFD = -1 }
                        }
                    }
                }
            }
            for fd in [inFD, outFD, errFD] where fd >= 0 { close(fd) }
            var status = timedOut ? nil : reap(by: deadline)
            if status == nil {
                timedOut = true
                // Killed before it is reaped: until then its pid (and group id) names no other process.
                kill(newSession ? -pid : pid, SIGKILL)
                status = reap(by: Instant.after(milliseconds: Subprocess.killGraceMilliseconds))
            }
            // Never reaped within the grace: reported as the SIGKILL it was sent.
            let s = status ?? SIGKILL
            let exited = (s & 0x7f) == 0
            return Result(
                status: exited ? (s >> 8) & 0xff : 128 + (s & 0x7f),
                signal: exited ? nil : s & 0x7f,
                stdout: out, stderr: err, timedOut: timedOut)
        }

        /// Reaps the child once it exits, waiting no later than `deadline`;
        /// its wait status, or nil if it is still running then.
        func reap(by deadline: Instant) -> Int32? {
            // Readable once the child exits; without pidfds (old kernels) the wait polls.
            let pidfd = mcrun_pidfd_open(pid, 0)
            defer { if pidfd >= 0 { close(pidfd) } }
            while true {
                var status: Int32 = 0
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid { return status }
                // Not our child to wait for (SIGCHLD ignored reaps it for us): it is gone.
                if r < 0 && errno == ECHILD { return 0 }
                let remaining = deadline.remainingMilliseconds
                if remaining <= 0 { return nil }
                if pidfd >= 0 {
                    var p = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
                    _ = poll(&p, 1, Int32(clamping: remaining))
                } else {
                    usleep(useconds_t(min(remaining, 10) * 1_000))
                }
            }
        }
    }

    public static func spawn(
        _ argv: [String], environment: [String]? = nil, workingDirectory: String? = nil, newSession: Bool = false
    ) throws -> Child {
        var inPipe: [Int32] = [0, 0]
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        guard mcrun_pipe2(&inPipe, O_CLOEXEC) == 0 else { throw SpawnError(program: argv[0], errno: errno) }
        guard mcrun_pipe2(&outPipe, O_CLOEXEC) == 0 else { throw SpawnError(program: argv[0], errno: errno) }
        guard mcrun_pipe2(&errPipe, O_CLOEXEC) == 0 else { throw SpawnError(program: argv[0], errno: errno) }
        // The parent's write end must not block if the child stops reading.
        _ = fcntl(inPipe[1], F_SETFL, fcntl(inPipe[1], F_GETFL) | O_NONBLOCK)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        if let workingDirectory { mcrun_spawn_addchdir(&actions, workingDirectory) }
        // Only stdin, stdout and stderr reach the child: a descriptor inherited by a
        // long-lived child (a tmux server daemon, an agent) would hold another pipe open.
        mcrun_spawn_addclosefrom(&actions, 3)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in resetSignals { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attr, &mask)
        var flags = Int32(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)
        if newSession { flags |= Int32(mcrun_spawn_setsid_flag()) }
        posix_spawnattr_setflags(&attr, Int16(flags))

        var pid: pid_t = 0
        let env = environment ?? currentEnvironment()
        let rc = withCStrings(argv) { cargv in
            withCStrings(env) { cenv in
                posix_spawnp(&pid, argv[0], &actions, &attr, cargv, cenv)
            }
        }
        close(inPipe[0])
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(inPipe[1])
            close(outPipe[0])
            close(errPipe[0])
            throw SpawnError(program: argv[0], errno: rc)
        }
        return Child(pid: pid, stdinFD: inPipe[1], stdoutFD: outPipe[0], stderrFD: errPipe[0], newSession: newSession)
    }

    public static func currentEnvironment() -> [String] {
        var out: [String] = []
        var p = environ
        while let entry = p.pointee {
            out.append(String(cString: entry))
            p += 1
        }
        return out
    }
}

/// Calls `body` with a NULL-terminated C array of the strings, valid only during the call.
public func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) throws -> R) rethrows -> R {
    let pointers = strings.map { strdup($0) }
    defer { for pointer in pointers { free(pointer) } }
    return try (pointers + [nil]).withUnsafeBufferPointer { try body($0.baseAddress!) }
}
