/// A failure of the host, not of one agent: mcrun's tmux server lost, or a breaker opened
/// because agents of several tickets died right after starting (a provider's quota, broken
/// credentials, a wrong directory). The runtimes it ends are not deaths of their tickets:
/// no count moves, nothing escalates. Opened once (event `host_incident`), closed once its
/// cause has gone (event `host_incident_closed`); at most one open incident of each kind.
public struct HostIncident: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// mcrun's tmux server went away (crashed, killed) with agents in it.
        case tmuxLost = "tmux_lost"
        /// Agents of several tickets died right after starting: starts and relaunches are held.
        case breaker
        /// Relaunches did not start for a cause outside the agent (tmux failed, no identity
        /// in time, the launcher vanished): owed again, never escalated.
        case launchFailed = "launch_failed"
    }

    public var id: Int64
    public var kind: Kind
    /// One line for a person: what happened.
    public var cause: String
    public var startedAt: Double
    public var endedAt: Double?
    public var closedBy: String?
    public var closeReason: String?
    /// The tickets whose runtimes it ended (or, for the breaker, whose agents died fast).
    public var tickets: [String]
    /// Runtimes it ended.
    public var runtimes: Int
    /// The breaker's probe launch under way, if any.
    public var probeRuntimeID: Int64?
    /// The breaker admits one probe launch from this time on (end of the cool-down).
    public var nextProbeAt: Double?

    public var isOpen: Bool { endedAt == nil }

    public var json: JSONValue {
        [
            "id": .int(id), "kind": .string(kind.rawValue), "cause": .string(cause), "started_at": .double(startedAt),
            "ended_at": JSONValue(endedAt), "closed_by": JSONValue(closedBy), "close_reason": JSONValue(closeReason),
            "tickets": JSONValue(tickets), "runtimes": .int(Int64(runtimes)), "probe_runtime_id": JSONValue(probeRuntimeID),
            "next_probe_at": JSONValue(nextProbeAt),
        ]
    }

    /// One line for `ps`, `doctor` and `STATUS=`.
    public func summary(now: Double = WallClock.now()) -> String {
        let age = Self.span(now - startedAt)
        switch kind {
        case .tmuxLost:
            return "host incident: mcrun's tmux server lost \(age) ago; \(runtimes) runtime\(runtimes == 1 ? "" : "s") ended, relaunched once it is back"
        case .launchFailed:
            return
                "host incident for \(age): relaunches fail outside the agents (\(cause)); \(tickets.count) ticket\(tickets.count == 1 ? "" : "s") owed a relaunch, tried again with a growing delay"
        case .breaker:
            var line = "host breaker open for \(age): \(cause); starts and relaunches held"
            if probeRuntimeID != nil {
                line += " (probe running)"
            } else if let next = nextProbeAt {
                line += next > now ? "; probe in \(Self.span(next - now))" : "; next launch is the probe"
            }
            return line + "; close with: mcrun breaker close"
        }
    }

    /// Whole seconds, as durations are spelled everywhere: `1h2m`, `40s`.
    static func span(_ seconds: Double) -> String {
        DurationText.describe(milliseconds: max(0, Int(seconds.rounded(.up))) * 1000)
    }
}
