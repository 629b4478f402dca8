/// What an unexpected death leads to. The default is the one that ended both "never
/// retried" and "retried forever": the first death is relaunched once, silently, after a
/// short delay; the next escalates to a person and nothing is relaunched until a reset or
/// a completion.
public struct DeathPolicy: Sendable, Equatable {
    /// Deaths (since the last completion or reset) that are still relaunched.
    public var maxSilentRetries: Int
    public var retryDelayMilliseconds: Int

    public init(maxSilentRetries: Int = 1, retryDelayMilliseconds: Int = 2_000) {
        self.maxSilentRetries = maxSilentRetries
        self.retryDelayMilliseconds = retryDelayMilliseconds
    }

    public enum Decision: Sendable, Equatable {
        /// Relaunch the same command in a new episode once `dueAt` (wall-clock seconds) passed.
        case retry(dueAt: Double)
        /// No relaunch; a person must look.
        case escalate
    }

    /// `deaths` counts the death being decided on.
    public func decide(deaths: Int, now: Double) -> Decision {
        deaths <= maxSilentRetries ? .retry(dueAt: now + Double(retryDelayMilliseconds) / 1000) : .escalate
    }
}
