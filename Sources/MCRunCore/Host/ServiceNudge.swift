public import Glibc

/// Tells a running `mcrun serve` that the ledger changed (a runtime started), so it starts
/// watching at once instead of at its next reconcile pass. One datagram, never blocks, and
/// does nothing when no service listens: the CLI works the same without it.
public enum ServiceNudge {
    public static func send(_ directory: StateDirectory, message: String = "nudge") {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        guard var address = UnixAddress.make(directory.serveSocketPath) else { return }
        _ = message.utf8CString.withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count - 1, Int32(MSG_NOSIGNAL), $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
        }
    }
}

/// sockaddr_un for a path, nil when the path does not fit.
public enum UnixAddress {
    public static func make(_ path: String) -> sockaddr_un? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
        return address
    }
}
