import CLinux
import Glibc
import MCRunCore

/// The supervisor's one wait: an epoll set holding a pidfd per watched agent (readable when
/// the agent exits), the nudge socket the CLI writes to, and an eventfd other threads use
/// to wake the loop. Owned by the loop thread; only `wake()` may be called from others.
final class EventPoller: @unchecked Sendable {
    enum Token: Equatable {
        case exited(runtimeID: Int64)
        case nudged
        case woken
    }

    private let epoll: Int32
    private let wakeFD: Int32
    private let nudgeFD: Int32
    let nudgePath: String
    private static let wakeKey = UInt64.max
    private static let nudgeKey = UInt64.max - 1

    init(nudgePath: String) throws(MCRunError) {
        self.nudgePath = nudgePath
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw .internalError("epoll_create1: \(String(cString: strerror(errno)))") }
        wakeFD = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard wakeFD >= 0 else {
            close(epoll)
            throw .internalError("eventfd: \(String(cString: strerror(errno)))")
        }
        // The lock is held, so a socket file left by a crashed serve is stale.
        unlink(nudgePath)
        nudgeFD = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard nudgeFD >= 0, var address = UnixAddress.make(nudgePath) else {
            close(epoll)
            close(wakeFD)
            throw .internalError("cannot create the nudge socket at \(nudgePath)")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(nudgeFD, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            close(epoll)
            close(wakeFD)
            close(nudgeFD)
            throw .internalError("cannot bind the nudge socket \(nudgePath): \(reason)")
        }
        chmod(nudgePath, 0o600)
        _ = add(wakeFD, key: Self.wakeKey)
        _ = add(nudgeFD, key: Self.nudgeKey)
    }

    deinit {
        unlink(nudgePath)
        close(nudgeFD)
        close(wakeFD)
        close(epoll)
    }

    private func add(_ fd: Int32, key: UInt64) -> Bool {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = key
        return epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0
    }

    /// Starts watching an agent's pidfd; false if the kernel refused it.
    func watch(pidfd: Int32, runtimeID: Int64) -> Bool {
        add(pidfd, key: UInt64(runtimeID))
    }

    func unwatch(pidfd: Int32) {
        var event = epoll_event()
        _ = epoll_ctl(epoll, EPOLL_CTL_DEL, pidfd, &event)
    }

    /// Any thread: makes the loop's current or next `wait` return.
    func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) and returns what happened.
    func wait(timeoutMilliseconds: Int) -> [Token] {
        var events = [epoll_event](repeating: epoll_event(), count: 512)
        let n = epoll_wait(epoll, &events, Int32(events.count), Int32(clamping: timeoutMilliseconds))
        guard n > 0 else { return [] }
        var tokens: [Token] = []
        for event in events[0..<Int(n)] {
            switch event.data.u64 {
            case Self.wakeKey:
                var value: UInt64 = 0
                _ = read(wakeFD, &value, 8)
                tokens.append(.woken)
            case Self.nudgeKey:
                drainNudges()
                tokens.append(.nudged)
            case let key:
                tokens.append(.exited(runtimeID: Int64(key)))
            }
        }
        return tokens
    }

    private func drainNudges() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while buffer.withUnsafeMutableBytes({ recv(nudgeFD, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }) >= 0 {}
    }
}
