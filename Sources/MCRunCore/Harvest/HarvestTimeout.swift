import GRDB

/// A live runtime with no pane output for longer than the harvest timeout is `silent`:
/// waiting for a person or hung. Decided from what `ps` already has (the one tmux snapshot's
/// window activity, the log file's mtime), never from a tmux call per runtime.
public enum HarvestTimeout {
    /// Seconds, from the `harvest_timeout` setting, else `MCRUN_HARVEST_TIMEOUT`; nil is off.
    static func limit(_ db: Database, environment: [String: String]) throws -> Double? {
        if let stored = try Ledger.setting(db, .harvestTimeout) { return parse(stored) }
        return environment["MCRUN_HARVEST_TIMEOUT"].flatMap(parse)
    }

    /// From 1 ms to a year.
    public static let range = 1...(365 * DurationText.day)

    /// Seconds of `30m`, `90s`, `2h`, `500ms` or bare seconds; nil when not a duration in `range`.
    public static func parse(_ text: String) -> Double? {
        DurationText.milliseconds(text, in: range).map { Double($0) / 1000 }
    }

    /// When the runtime last showed output: the later of tmux's window activity and the
    /// pane log's last write, never earlier than its start.
    public static func lastOutput(_ runtime: Runtime, pane: TmuxServer.Pane?, logPath: String?) -> Double {
        var last = runtime.startedAt ?? runtime.createdAt
        if let activity = pane?.activity { last = max(last, activity) }
        if let logPath, let written = PaneLog.lastWrite(logPath) { last = max(last, written) }
        return last
    }

    /// The silence past `limit`, for a running runtime; nil when it is not silent.
    public static func silence(
        _ runtime: Runtime, pane: TmuxServer.Pane?, logPath: String?, limit: Double?, now: Double = WallClock.now()
    ) -> TerminalRecord.Silence? {
        guard let limit, runtime.state == .running else { return nil }
        let quiet = now - lastOutput(runtime, pane: pane, logPath: logPath)
        return quiet > limit ? TerminalRecord.Silence(seconds: quiet, limit: limit) : nil
    }
}
