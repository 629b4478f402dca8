import CLinux
import Glibc

/// A handle on one exact process. Signals go through a pidfd, so a PID that was recycled
/// after we looked is never signalled; the pidfd also becomes readable when the process
/// exits, which is how deaths are noticed without polling.
public final class ProcessHandle: @unchecked Sendable {
    public let identity: AgentIdentity
    /// -1 when the kernel has no pidfd support; then signals fall back to kill(2) guarded by
    /// a start-time check, which narrows but cannot close the recycling race.
    public let pidfd: Int32

    private init(identity: AgentIdentity, pidfd: Int32) {
        self.identity = identity
        self.pidfd = pidfd
    }

    deinit {
        if pidfd >= 0 { close(pidfd) }
    }

    /// True when this kernel refuses pidfd_open (ENOSYS, or EPERM under some seccomp filters).
    public static let pidfdUnavailable: Bool = {
        let fd = mcrun_pidfd_open(getpid(), 0)
        if fd >= 0 {
            close(fd)
            return false
        }
        return errno == ENOSYS || errno == EPERM
    }()

    /// Opens a handle if, and only if, the process named by `identity` is still running.
    /// The start time is checked after the pidfd is open, so the pidfd cannot refer to a
    /// process that took over the PID in between.
    public static func open(_ identity: AgentIdentity) -> ProcessHandle? {
        guard identity.bootID == ProcFS.bootID() else { return nil }
        var fd: Int32 = -1
        if !pidfdUnavailable {
            fd = mcrun_pidfd_open(identity.pid, 0)
            if fd < 0 { return nil }
        }
        guard let stat = ProcFS.stat(identity.pid), stat.startTime == identity.startTime, !stat.hasExited else {
            if fd >= 0 { close(fd) }
            return nil
        }
        return ProcessHandle(identity: identity, pidfd: fd)
    }

    /// Sends `signal`; false when the process had already exited.
    @discardableResult
    public func signal(_ signal: Int32) -> Bool {
        if pidfd >= 0 {
            return mcrun_pidfd_send_signal(pidfd, signal) == 0
        }
        guard let stat = ProcFS.stat(identity.pid), stat.startTime == identity.startTime else { return false }
        return kill(identity.pid, signal) == 0
    }

    public var hasExited: Bool { waitForExit(timeoutMilliseconds: 0) }

    /// The exit status the kernel kept for this process, once its parent (tmux) reaped it.
    /// Waits up to `timeoutMilliseconds` for the reaping. nil when the kernel cannot say
    /// (before Linux 6.15, or no pidfd).
    public func exitStatus(timeoutMilliseconds: Int) -> (code: Int?, signal: Int?)? {
        guard pidfd >= 0 else { return nil }
        let deadline = Instant.after(milliseconds: timeoutMilliseconds)
        while true {
            var status: Int32 = 0
            if mcrun_pidfd_wait_status(pidfd, &status) == 0 {
                let signal = status & 0x7f
                return signal == 0 ? (Int((status >> 8) & 0xff), nil) : (nil, Int(signal))
            }
            guard errno == EAGAIN, !deadline.hasPassed else { return nil }
            Reaping.nudgeParent(of: identity)
            usleep(2_000)
        }
    }

    /// Waits until the process has exited (a zombie counts: it runs no more code).
    public func waitForExit(timeoutMilliseconds: Int) -> Bool {
        if pidfd >= 0 {
            var pfd = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
            var remaining = timeoutMilliseconds
            let deadline = Instant.after(milliseconds: timeoutMilliseconds)
            while true {
                let r = poll(&pfd, 1, Int32(clamping: remaining))
                if r > 0 { return true }
                if r == 0 { return false }
                guard errno == EINTR else { return identity.liveness() != .alive }
                remaining = deadline.remainingMilliseconds
            }
        }
        let deadline = Instant.after(milliseconds: timeoutMilliseconds)
        while true {
            if identity.liveness() != .alive { return true }
            if deadline.hasPassed { return false }
            usleep(10_000)
        }
    }
}

/// tmux 3.3 sometimes misses a SIGCHLD and leaves a dead pane's process a zombie, with no
/// exit status, until another child happens to exit. A SIGCHLD sent to the tmux server
/// makes it run its reaping loop at once.
public enum Reaping {
    public static func nudgeParent(of identity: AgentIdentity) {
        guard let stat = ProcFS.stat(identity.pid), stat.startTime == identity.startTime,
            stat.state == UInt8(ascii: "Z"), stat.ppid > 1,
            let comm = ProcFS.readFile("/proc/\(stat.ppid)/comm", limit: 64),
            String(decoding: comm, as: UTF8.self).hasPrefix("tmux")
        else { return }
        kill(stat.ppid, SIGCHLD)
    }
}
