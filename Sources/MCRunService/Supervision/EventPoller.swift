import CLinux
import Glibc
import MCRunCore

/// What the supervisor watches: an epoll set holding a pidfd per watched agent (readable
/// when the agent exits) and the nudge socket the CLI writes to. The set's own descriptor
/// is readable whenever one of them is, so the supervisor's `DedicatedLoop` waits on it.
/// Owned by the loop thread.
final class EventPoller: @unchecked Sendable {
    enum Token: Equatable {
        case exited(runtimeID: Int64)
        case nudged
    }

    /// The epoll set: readable while an event is ready.
    let descriptor: Int32
    private let nudgeFD: Int32
    let nudgePath: String
    private static let nudgeKey = UInt64.max

    init(nudgePath: String) throws(MCRunError) {
        self.nudgePath = nudgePath
        descriptor = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard descriptor >= 0 else { throw .internalError("epoll_create1: \(String(cString: strerror(errno)))") }
        // The lock is held, so a socket file left by a crashed serve is stale.
        unlink(nudgePath)
        nudgeFD = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard nudgeFD >= 0, var address = UnixAddress.make(nudgePath) else {
            close(descriptor)
            throw .internalError("cannot create the nudge socket at \(nudgePath)")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(nudgeFD, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            close(nudgeFD)
            throw .internalError("cannot bind the nudge socket \(nudgePath): \(reason)")
        }
        chmod(nudgePath, 0o600)
        _ = add(nudgeFD, key: Self.nudgeKey)
    }

    deinit {
        unlink(nudgePath)
        close(nudgeFD)
        close(descriptor)
    }

    private func add(_ fd: Int32, key: UInt64) -> Bool {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = key
        return epoll_ctl(descriptor, EPOLL_CTL_ADD, fd, &event) == 0
    }

    /// Starts watching an agent's pidfd; false if the kernel refused it.
    func watch(pidfd: Int32, runtimeID: Int64) -> Bool {
        add(pidfd, key: UInt64(runtimeID))
    }

    func unwatch(pidfd: Int32) {
        var event = epoll_event()
        _ = epoll_ctl(descriptor, EPOLL_CTL_DEL, pidfd, &event)
    }

    /// What is ready now, without waiting.
    func ready() -> [Token] {
        var events = [epoll_event](repeating: epoll_event(), count: 512)
        let n = epoll_wait(descriptor, &events, Int32(events.count), 0)
        guard n > 0 else { return [] }
        var tokens: [Token] = []
        for event in events[0..<Int(n)] {
            switch event.data.u64 {
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
