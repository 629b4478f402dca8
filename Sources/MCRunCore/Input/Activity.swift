import GRDB

/// Whether an agent is mid-turn. Sources, best first: the agent's own hooks (it says when a
/// turn starts and ends), then pane output (something was printed in the last few
/// seconds), then, only when asked, a configured regex over the screen, because agents
/// change their UI and a pattern is the first thing to go stale.
public enum Activity {
    public enum Source: String, Sendable {
        case hook, pane, screen
    }

    public struct Assessment: Sendable, Equatable {
        public var busy: Bool
        /// nil when nothing is known (no hook report, no pane to look at).
        public var source: Source?
        public var at: Double?
        /// The agent reported that it waits for a person (a permission prompt); it is busy too.
        public var waiting: Bool = false
    }

    /// The settings busy detection reads, once per command.
    public struct Settings: Sendable {
        /// Output within this many seconds counts as busy.
        public var windowSeconds: Double
        public var pattern: String?

        public static let defaultWindowSeconds = 3.0

        public init(windowSeconds: Double = Settings.defaultWindowSeconds, pattern: String? = nil) {
            self.windowSeconds = windowSeconds
            self.pattern = pattern
        }

        static func load(_ db: Database) throws -> Settings {
            let window = try Ledger.setting(db, .busyWindow).flatMap(Double.init) ?? defaultWindowSeconds
            return Settings(windowSeconds: window, pattern: try Ledger.setting(db, .busyPattern))
        }
    }

    /// Once an agent has reported through its hooks, its word is the only source for the
    /// rest of the episode: pane output (a clock, a spinner) must not contradict it.
    public static func hasHookReports(_ runtime: Runtime) -> Bool {
        runtime.busySource == Source.hook.rawValue
    }

    /// The one busy-detection function: `ps` shows what it returns and `send` acts on it.
    /// `screen` is called only when the cheaper sources say idle and a pattern is set; pass
    /// nil where capturing the pane would cost a tmux call per runtime (`ps`).
    public static func assess(
        _ runtime: Runtime, pane: TmuxServer.Pane?, settings: Settings, now: Double = WallClock.now(),
        screen: (() -> String?)? = nil
    ) -> Assessment {
        let pattern = settings.pattern ?? runtime.agentKind?.defaultBusyPattern
        if hasHookReports(runtime) {
            let reported = Assessment(busy: runtime.busy, source: .hook, at: runtime.busyAt, waiting: runtime.waitingSince != nil)
            // Codex and Aider report only the end of a turn: an idle report stands until the
            // pane shows a turn begun since (output after the report, the agent's busy line)
            // or, for Aider, a yes/no question it asked after ringing its notification.
            guard !runtime.busy, let kind = runtime.agentKind, !kind.reportsTurnStarts else { return reported }
            if let pane, !pane.dead, let activity = pane.activity, let at = runtime.busyAt,
                activity > at + 1, now - activity < settings.windowSeconds + 1
            {
                return Assessment(busy: true, source: .pane, at: activity)
            }
            guard let screen, let text = screen() else { return reported }
            if let waiting = kind.waitingPattern, matches(waiting, lastLine(text)) {
                return Assessment(busy: true, source: .screen, at: now, waiting: true)
            }
            if let pattern, matches(pattern, text) { return Assessment(busy: true, source: .screen, at: now) }
            return reported
        }
        var result = Assessment(busy: false, source: nil, at: nil)
        if let pane, !pane.dead, let activity = pane.activity {
            // window_activity is truncated to the second: the last output was at most a
            // second after it, so anything closer than window + 1 may be within the window.
            result = Assessment(busy: now - activity < settings.windowSeconds + 1, source: .pane, at: activity)
            if result.busy { return result }
        }
        if let pattern, let screen, let text = screen(), matches(pattern, text) {
            return Assessment(busy: true, source: .screen, at: now)
        }
        return result
    }

    /// The screen's last line with text: where an agent's prompt or question is.
    static func lastLine(_ screen: String) -> String {
        String(screen.split(separator: "\n").last { !$0.allSatisfy(\.isWhitespace) } ?? "")
    }

    /// A pattern that does not compile matches nothing; `mcrun config busy-pattern`
    /// refuses such patterns, so this only guards a hand-edited ledger.
    static func matches(_ pattern: String, _ text: String) -> Bool {
        guard let regex = try? Regex(pattern) else { return false }
        return text.contains(regex)
    }

    public static func isValidPattern(_ pattern: String) -> Bool {
        (try? Regex(pattern)) != nil
    }

    /// What an agent can say about itself: a turn started (busy), ended (idle), or it waits
    /// for a person (waiting: a permission prompt; typed text would answer it).
    public enum Report: String, Sendable, CaseIterable {
        case busy, idle, waiting
    }

    /// The agent's own session, as its hooks name it (Claude Code: `session_id` and
    /// `transcript_path`), so that whoever harvests or resumes the episode can find it.
    public struct AgentSession: Sendable, Equatable {
        public var id: String
        public var transcriptPath: String?

        public init(id: String, transcriptPath: String?) {
            self.id = id
            self.transcriptPath = transcriptPath
        }
    }

    /// Records what the agent said about itself, after checking its episode credentials in
    /// the same transaction. A rejected report changes nothing but leaves an event, since a
    /// wrong nonce is either a bug or someone pretending to be the agent. Entering `waiting`
    /// writes a `waiting` event (someone may have to approve something); the next busy or
    /// idle report leaves it and writes `waiting_ended`. `detail` names what the agent waits
    /// for (e.g. `permission_prompt`). A nil report records only the session. A session that
    /// differs from the recorded one is stored with an `agent_session` event.
    public static func record(
        _ report: Report?, detail: String? = nil, session: AgentSession? = nil, credentials: EpisodeCredentials, ledger: Ledger, actor: String
    ) throws(MCRunError) -> Runtime {
        let outcome = try ledger.write { db -> Result<Runtime, EpisodeCredentials.Rejection> in
            let now = WallClock.now()
            switch try credentials.verify(db) {
            case .success(var runtime):
                if let session, session.id != runtime.agentSessionID || session.transcriptPath != runtime.agentTranscriptPath {
                    runtime.agentSessionID = session.id
                    runtime.agentTranscriptPath = session.transcriptPath
                    try Ledger.setAgentSession(db, runtimeID: runtime.id!, sessionID: session.id, transcriptPath: session.transcriptPath)
                    try Ledger.appendEvent(
                        db, kind: "agent_session", runtime: runtime, actor: actor,
                        data: ["session_id": .string(session.id), "transcript_path": JSONValue(session.transcriptPath)], now: now)
                }
                guard let report else { return .success(runtime) }
                let waitedSince = runtime.waitingSince
                runtime.busy = report != .idle
                runtime.busySource = Source.hook.rawValue
                runtime.busyAt = now
                if report == .waiting {
                    runtime.waitingSince = waitedSince ?? now
                    runtime.waitingFor = detail ?? runtime.waitingFor ?? "input"
                } else {
                    runtime.waitingSince = nil
                    runtime.waitingFor = nil
                }
                try Ledger.setActivity(
                    db, runtimeID: runtime.id!, busy: runtime.busy, source: .hook, at: now,
                    waitingSince: runtime.waitingSince, waitingFor: runtime.waitingFor)
                if report == .waiting, waitedSince == nil {
                    try Ledger.appendEvent(
                        db, kind: "waiting", runtime: runtime, actor: actor, reason: runtime.waitingFor, data: ["for": JSONValue(runtime.waitingFor)], now: now)
                } else if report != .waiting, let waitedSince {
                    try Ledger.appendEvent(
                        db, kind: "waiting_ended", runtime: runtime, actor: actor, reason: report.rawValue,
                        data: ["report": .string(report.rawValue), "waited_seconds": .double(now - waitedSince)], now: now)
                }
                return .success(runtime)
            case .failure(let rejection):
                let runtime = try Ledger.runtime(db, ticket: credentials.ticket.rawValue, episode: credentials.episode)
                try Ledger.appendEvent(
                    db, kind: "activity_rejected", ticket: credentials.ticket.rawValue, runtime: runtime, actor: actor,
                    reason: rejection.rawValue, data: ["report": JSONValue(report?.rawValue), "episode": .int(Int64(credentials.episode))], now: now)
                return .failure(rejection)
            }
        }
        switch outcome {
        case .success(let runtime):
            return runtime
        case .failure(let rejection):
            throw MCRunError(
                .declined, rejection.rawValue,
                "activity report declined: \(rejectionText(rejection)) (ticket \(credentials.ticket) episode \(credentials.episode)); nothing was recorded")
        }
    }

    static func rejectionText(_ rejection: EpisodeCredentials.Rejection) -> String {
        switch rejection {
        case .badNonce: "the nonce does not match the episode"
        case .staleEpisode: "a newer episode of the ticket exists"
        case .ticketParked: "the ticket is parked, its episode's reports are quarantined"
        case .runtimeEnded: "the episode is not running"
        case .unknownEpisode: "no such episode"
        }
    }
}
