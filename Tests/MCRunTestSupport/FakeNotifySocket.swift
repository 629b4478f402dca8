import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A stand-in for systemd's notify socket: a unix datagram socket in a fresh temporary
/// directory that records every datagram sent to it, in order. Point `$NOTIFY_SOCKET` of the
/// code under test at ``path``.
///
/// Nothing reads in the background: received datagrams are collected whenever a test asks,
/// so the socket has no thread to stop and no timing of its own.
public final class FakeNotifySocket: Sendable {
    public let path: String
    private let directory: String
    private let descriptor: Int32
    private let state = Mutex(State())

    private struct State {
        var received: [String] = []
        var closed = false
    }

    public init() throws {
        let temporary = NSTemporaryDirectory().hasSuffix("/") ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"
        var template = Array("\(temporary)mcrun-notify-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw HarnessError("cannot create a directory for the notify socket: \(String(cString: strerror(errno)))")
        }
        let directory = String(cString: made)
        let path = directory + "/notify"
        self.directory = directory
        self.path = path

        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            rmdir(directory)
            throw HarnessError("cannot create a datagram socket: \(String(cString: strerror(errno)))")
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else {
            closeDescriptor(fd)
            rmdir(directory)
            throw HarnessError("notify socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path.utf8)
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            closeDescriptor(fd)
            rmdir(directory)
            throw HarnessError("cannot bind \(path): \(reason)")
        }
        descriptor = fd
    }

    deinit {
        close()
    }

    /// Every datagram received so far, oldest first.
    public var messages: [String] {
        state.withLock { state in
            drain(into: &state)
            return state.received
        }
    }

    /// Waits for a datagram matching `predicate` and returns it; fails after `timeout`
    /// listing what did arrive.
    @discardableResult
    public func waitForMessage(
        timeout: Duration = .seconds(5),
        matching predicate: (String) -> Bool
    ) async throws -> String {
        do {
            return try await poll(until: .now + timeout) { messages.first(where: predicate) }
        } catch is TimedOut {
            throw HarnessError("no matching notification within \(timeout); received \(messages)")
        }
    }

    /// Closes the socket and removes its directory. Later reads return what was collected.
    public func close() {
        state.withLock { state in
            guard !state.closed else { return }
            drain(into: &state)
            state.closed = true
            closeDescriptor(descriptor)
            unlink(path)
            rmdir(directory)
        }
    }

    private func drain(into state: inout State) {
        guard !state.closed else { return }
        var buffer = [UInt8](repeating: 0, count: 8_192)
        while true {
            let count = buffer.withUnsafeMutableBytes {
                recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
            }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return }
            state.received.append(String(decoding: buffer[..<count], as: UTF8.self))
        }
    }
}

/// close(2), which `FakeNotifySocket.close()` would shadow.
private func closeDescriptor(_ descriptor: Int32) {
    #if canImport(Glibc)
        _ = Glibc.close(descriptor)
    #elseif canImport(Musl)
        _ = Musl.close(descriptor)
    #endif
}
