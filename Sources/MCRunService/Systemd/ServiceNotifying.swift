/// What the supervisor tells its service manager: readiness, a one-line status, keep-alive
/// pings and shutdown. `SystemdNotifier` speaks sd_notify; without systemd every call is a
/// no-op and `watchdogInterval` is nil.
public protocol ServiceNotifying: Sendable {
    var isUnderSystemd: Bool { get }
    /// The unit's `WatchdogSec=`, when the service manager expects `WATCHDOG=1` pings.
    var watchdogInterval: Duration? { get }
    func ready(status: String?)
    func status(_ text: String)
    func watchdog()
    func stopping(status: String?)
}
