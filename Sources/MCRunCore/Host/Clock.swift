import Glibc

/// mcrun's one representation of time for waiting: a point on CLOCK_MONOTONIC, with
/// intervals as the standard `Duration`. Deadlines, timeouts and ages are `Instant`s, so a
/// wall-clock jump never cuts a wait short or stretches it. Wall time (`WallClock`) is
/// only for what the ledger records.
public struct Instant: Comparable, Hashable, Sendable {
    /// Nanoseconds on CLOCK_MONOTONIC.
    public let nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static var now: Instant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Instant(nanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec))
    }

    /// `milliseconds` from now.
    public static func after(milliseconds: Int) -> Instant { .now + .milliseconds(milliseconds) }

    /// The monotonic instant of a wall time the ledger records (a relaunch's due time).
    public static func at(wallTime: Double, now: Instant = .now, wallNow: Double = WallClock.now()) -> Instant {
        now + .nanoseconds(Int64(((wallTime - wallNow) * 1e9).rounded(.up).clamped(-9e18, 9e18)))
    }

    public var hasPassed: Bool { Instant.now >= self }

    /// Time left until this instant, zero once it has passed.
    public var remaining: Duration { max(.zero, self - .now) }

    /// Time left in whole milliseconds, rounded up so a wait never wakes early; what
    /// poll(2), epoll_wait(2) and child timeouts take.
    public var remainingMilliseconds: Int {
        let left = nanoseconds - Instant.now.nanoseconds
        return left <= 0 ? 0 : Int((left + 999_999) / 1_000_000)
    }

    public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }

    public static func + (a: Instant, d: Duration) -> Instant { Instant(nanoseconds: a.nanoseconds &+ d.nanoseconds) }

    public static func - (a: Instant, d: Duration) -> Instant { Instant(nanoseconds: a.nanoseconds &- d.nanoseconds) }

    public static func - (a: Instant, b: Instant) -> Duration { .nanoseconds(a.nanoseconds &- b.nanoseconds) }
}

extension Duration {
    /// The whole nanoseconds of the duration, saturated at Int64's range.
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return scaled.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }

    /// The whole milliseconds of the duration.
    public var milliseconds: Int64 { nanoseconds / 1_000_000 }

    /// Seconds as a Double, for messages and wall-time arithmetic.
    public var seconds: Double { Double(nanoseconds) / 1e9 }
}

/// Wall-clock seconds since the epoch, as stored in the ledger.
public enum WallClock {
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

extension Double {
    fileprivate func clamped(_ low: Double, _ high: Double) -> Double { Swift.min(Swift.max(self, low), high) }
}
