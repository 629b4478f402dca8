import CLinux
import Foundation
import Glibc
public import MCRunCore
import ServiceLifecycle
import Synchronization

/// The service's one way to run blocking work (pidfd and epoll waits, SQLite, tmux calls,
/// hooks): a loop on a thread of its own, so the cooperative pool never stalls.
///
/// The thread runs `step` again and again. Between steps it sleeps until the deadline the
/// step returned, a `nudge()`, or a watched descriptor becoming readable. A graceful
/// shutdown, a cancellation or `stop()` ends the loop after the current step, and `run`
/// returns only once the thread has finished: nothing of the loop outlives its service.
/// A loop runs once; after it stopped, `run` returns at once.
public final class DedicatedLoop: Sendable {
    public let name: String
    /// eventfd: a nudge or a stop makes the current or next wait return at once.
    private let wakeFD: Int32
    private let stopping = Atomic<Bool>(false)

    public init(name: String) throws(MCRunError) {
        self.name = name
        wakeFD = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard wakeFD >= 0 else { throw .internalError("eventfd for \(name): \(String(cString: strerror(errno)))") }
    }

    deinit { close(wakeFD) }

    /// Any thread: the loop runs its next step now rather than at its deadline.
    public func nudge() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    /// Any thread: the loop ends after its current step.
    public func stop() {
        stopping.store(true, ordering: .releasing)
        nudge()
    }

    public var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Runs the loop until a graceful shutdown, a cancellation or `stop()`. `step` runs on
    /// the loop's thread and returns when it wants to run again (nil: only when nudged or
    /// `watching` is readable). Returns after the thread's last step.
    public func run(watching fd: Int32? = nil, _ step: @escaping @Sendable () -> Instant?) async {
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await Self.onThread(name) { [self] in
                    while !isStopping {
                        let deadline = step()
                        if isStopping { break }
                        wait(until: deadline, watching: fd)
                    }
                }
            } onCancel: {
                self.stop()
            }
        } onGracefulShutdown: {
            self.stop()
        }
    }

    private func wait(until deadline: Instant?, watching fd: Int32?) {
        var fds = [pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
        if let fd { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
        let timeout = deadline.map { Int32(clamping: $0.remainingMilliseconds) } ?? -1
        if poll(&fds, nfds_t(fds.count), timeout) > 0 && fds[0].revents != 0 {
            var count: UInt64 = 0
            _ = read(wakeFD, &count, 8)
        }
    }

    /// Runs `body` on a new thread and returns once it has returned. The thread's
    /// continuation is resumed as its last act, so the awaiting task is the thread's join.
    static func onThread(_ name: String, _ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            spawn(name, niceness: 0) {
                body()
                done.resume()
            }
        }
    }

    /// The service's only place that creates a thread; `niceness` is added to its nice
    /// value (work that may wait yields the CPU to the loops).
    static func spawn(_ name: String, niceness: Int32, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread {
            if niceness != 0 { _ = mcrun_nice_this_thread(niceness) }
            body()
        }
        thread.name = name
        thread.start()
    }
}
