import GRDB

/// What an unexpected death leads to. The default is the one that ended both "never
/// retried" and "retried forever": the first death is relaunched once, silently, after a
/// short delay; the next escalates to a person and nothing is relaunched until a reset or
/// a completion.
///
/// One policy per host, kept in the ledger (`mcrun config max-silent-retries`,
/// `retry-delay`), because every process that records a death decides with it: the service
/// and any command that finds a dead runtime first.
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

    /// The host's policy: the ledger's settings over the defaults.
    static func load(_ db: Database) throws -> DeathPolicy {
        var policy = DeathPolicy()
        if let raw = try Ledger.setting(db, .maxSilentRetries), let n = Int(raw), n >= 0 { policy.maxSilentRetries = n }
        if let raw = try Ledger.setting(db, .retryDelay), let seconds = Double(raw), seconds >= 0, seconds.isFinite {
            policy.retryDelayMilliseconds = Int(seconds * 1000)
        }
        return policy
    }
}
