import Glibc

// Written from the signal handler, which cannot capture context.
nonisolated(unsafe) private var wakeDescriptor: Int32 = -1

/// SIGTERM, SIGHUP and SIGINT end the pump cleanly (pending lines written)
/// instead of killing it: the handler writes to a pipe the pump polls, which
/// cannot be missed the way a flag checked before poll(2) can.
enum TerminationSignals {
    /// Returns the read end to poll.
    static func install() -> Int32 {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return -1 }
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
        wakeDescriptor = ends[1]
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            let saved = errno
            var byte: UInt8 = 1
            _ = write(wakeDescriptor, &byte, 1)
            errno = saved
        }
        sigemptyset(&action.sa_mask)
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for signal in [SIGTERM, SIGHUP, SIGINT] {
            sigaction(signal, &action, nil)
            sigaddset(&unblock, signal)
        }
        // A parent may hand down a mask that blocks them (Foundation's Process does).
        sigprocmask(SIG_UNBLOCK, &unblock, nil)
        // A vanished stderr reader must not kill the pump.
        Glibc.signal(SIGPIPE, SIG_IGN)
        return ends[0]
    }
}
