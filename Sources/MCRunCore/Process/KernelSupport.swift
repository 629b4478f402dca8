import CLinux
import Glibc

/// What this kernel offers that mcrun relies on or falls back from, as `doctor` reports it.
public enum KernelSupport {
    /// pidfd_open(2) works: deaths are noticed the moment they happen, not by polling.
    public static var pidfd: Bool { !ProcessHandle.pidfdUnavailable }

    /// PIDFD_GET_INFO (Linux 6.15+) answers on a pidfd: the exit status of an agent that is
    /// not our child can be read from the kernel rather than from tmux. Asked of a live
    /// process it says "not exited yet" (EAGAIN); an older kernel does not know the ioctl.
    public static var pidfdGetInfo: Bool {
        let fd = mcrun_pidfd_open(getpid(), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var status: Int32 = 0
        return mcrun_pidfd_wait_status(fd, &status) == 0 || errno == EAGAIN
    }
}
