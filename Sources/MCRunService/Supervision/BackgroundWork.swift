import CLinux
import Foundation
import Synchronization

/// Blocking work the supervision loop hands off (a relaunch waiting for its shim, a stop
/// taken over, a teardown): each runs on a thread of its own, at most `limit` at once,
/// and every one is joined before the service exits, so no work is cut off or left
/// running unowned.
final class BackgroundWork: Sendable {
    private let group = DispatchGroup()
    private let slots: DispatchSemaphore
    private let running = Atomic<Int>(0)
    /// Added to the threads' nice value: work that may wait yields the CPU to the loop,
    /// whose next death is due in the ledger within milliseconds.
    private let niceness: Int32

    init(limit: Int, niceness: Int32 = 0) {
        slots = DispatchSemaphore(value: limit)
        self.niceness = niceness
    }

    func run(_ name: String, _ body: @escaping @Sendable () -> Void) {
        group.enter()
        running.add(1, ordering: .relaxed)
        let thread = Thread { [self] in
            if niceness != 0 { _ = mcrun_nice_this_thread(niceness) }
            slots.wait()
            body()
            slots.signal()
            running.subtract(1, ordering: .relaxed)
            group.leave()
        }
        thread.name = name
        thread.start()
    }

    var count: Int { running.load(ordering: .relaxed) }

    /// Waits for every piece of work started so far; false if some were still running at the deadline.
    func join(timeoutMilliseconds: Int) -> Bool {
        group.wait(timeout: .now() + .milliseconds(timeoutMilliseconds)) == .success
    }
}
