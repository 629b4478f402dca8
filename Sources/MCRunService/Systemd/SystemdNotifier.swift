import CSystemd
public import Logging
import MCRunCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Reports the service's state to systemd over `$NOTIFY_SOCKET` (sd_notify(3)).
///
/// Every call is a no-op when the process was not started by systemd with a notify socket
/// (a developer's shell), so the supervisor calls it unconditionally. A failed send is
/// logged once and otherwise ignored: losing a status update must never stop supervision,
/// and a lost `WATCHDOG=1` is exactly what the watchdog exists to notice.
///
/// The notifier never sends `MAINPID=`: the unit uses `NotifyAccess=main`, so only the
/// process systemd started may speak for the service.
public final class SystemdNotifier: Sendable {
    /// True when `$NOTIFY_SOCKET` was set when the notifier was made.
    public let isUnderSystemd: Bool

    /// The unit's `WatchdogSec=`, when systemd asked this process for keep-alive pings.
    public let watchdogInterval: Duration?

    private let logger: Logger
    private let failureReported = Atomic<Bool>(false)

    /// Reads `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` and `$WATCHDOG_PID`, leaving them set:
    /// sd_notify(3) reads `$NOTIFY_SOCKET` on every call, and changing the environment of a
    /// running multi-threaded process is unsafe. Hooks inherit them; under `NotifyAccess=main`
    /// systemd ignores anything a hook sends.
    public init(logger: Logger = Logger(label: "mcrun.systemd")) {
        self.logger = logger
        if let socket = getenv("NOTIFY_SOCKET"), socket.pointee != 0 {
            self.isUnderSystemd = true
        } else {
            self.isUnderSystemd = false
        }
        var usec: UInt64 = 0
        let enabled = sd_watchdog_enabled(0, &usec)
        if enabled > 0 {
            self.watchdogInterval = .microseconds(Int64(clamping: usec))
        } else {
            self.watchdogInterval = nil
            if enabled < 0 {
                logger.warning(
                    "ignoring a malformed watchdog request from systemd",
                    metadata: ["error": "\(Self.describe(errno: -enabled))"])
            }
        }
    }

    /// How often to send `WATCHDOG=1` while healthy: half the interval, as sd_watchdog_enabled(3)
    /// advises, so one late pass does not get the service killed.
    public var watchdogPingInterval: Duration? {
        watchdogInterval.map { $0 / 2 }
    }

    /// `READY=1`, optionally with the first `STATUS=` in the same datagram so systemd never
    /// shows a ready service without a status.
    public func ready(status: String? = nil) {
        send(["READY=1"] + (status.map { ["STATUS=" + Self.singleLine($0)] } ?? []))
    }

    /// `STATUS=`: shown by `systemctl status`. Newlines would start a new assignment, so they
    /// become spaces.
    public func status(_ text: String) {
        send(["STATUS=" + Self.singleLine(text)])
    }

    /// `WATCHDOG=1`: a keep-alive ping. Send it only after a supervision pass completed.
    public func watchdog() {
        send(["WATCHDOG=1"])
    }

    /// `STOPPING=1`, optionally with a final `STATUS=`.
    public func stopping(status: String? = nil) {
        send(["STOPPING=1"] + (status.map { ["STATUS=" + Self.singleLine($0)] } ?? []))
    }

    /// `RELOADING=1` with the `MONOTONIC_USEC=` newer systemd versions require; send `ready()`
    /// when the reload is done.
    public func reloading() {
        send(["RELOADING=1", "MONOTONIC_USEC=\(Instant.now.nanoseconds / 1_000)"])
    }

    /// `EXTEND_TIMEOUT_USEC=`: asks for more time during a long start-up or shutdown (a first
    /// reconcile of many runtimes) instead of being killed by `TimeoutStartSec=`.
    public func extendTimeout(by duration: Duration) {
        send(["EXTEND_TIMEOUT_USEC=\(max(0, duration.nanoseconds / 1_000))"])
    }

    private func send(_ assignments: [String]) {
        guard isUnderSystemd else { return }
        let result = assignments.joined(separator: "\n").withCString { sd_notify(0, $0) }
        if result < 0, !failureReported.exchange(true, ordering: .relaxed) {
            logger.warning(
                "cannot notify systemd; further failures are not logged",
                metadata: [
                    "error": "\(Self.describe(errno: -result))",
                    "notification": "\(assignments.joined(separator: " "))",
                ])
        }
    }

    static func singleLine(_ text: String) -> String {
        String(text.map { $0 == "\n" || $0 == "\r\n" || $0 == "\r" || $0 == "\0" ? " " : $0 })
    }

    private static func describe(errno code: Int32) -> String {
        String(cString: strerror(code))
    }
}
