/// Which agent a runtime runs, so that what mcrun knows about each agent's hooks and
/// screen applies: Claude Code reports every turn's start and end through its hooks;
/// Codex (`notify`) and Aider (`--notifications-command`) report only the end of a turn.
/// Named with `start --agent`, or derived from the command's name.
public enum AgentKind: String, Sendable, CaseIterable, Codable {
    case claudeCode = "claude-code"
    case codex
    case aider

    /// The agent a command runs, by its program's name (`claude`, `codex`, `aider`, also
    /// as a path); nil for any other program.
    public static func derive(argv: [String]) -> AgentKind? {
        guard let first = argv.first else { return nil }
        let name = first.split(separator: "/").last.map(String.init) ?? first
        switch name {
        case "claude": return .claudeCode
        case "codex": return .codex
        case "aider": return .aider
        default: return nil
        }
    }

    /// Whether the agent's hooks say when a turn starts. Codex and Aider only say when it
    /// ended, so a turn begun from the pane (a person typing at the agent's prompt) shows
    /// only as output after the last report.
    public var reportsTurnStarts: Bool { self == .claudeCode }

    /// The busy pattern `send` matches against the screen when neither hooks nor pane
    /// output say busy and no `busy-pattern` setting is configured: the line each agent
    /// shows while a turn runs (Claude Code and Codex: "esc to interrupt" in the status
    /// line; Aider: its "Waiting for MODEL" spinner while the model answers).
    public var defaultBusyPattern: String {
        switch self {
        case .claudeCode, .codex: "(?i)esc to interrupt"
        case .aider: "Waiting for [^ ]+"
        }
    }

    /// A question on the screen's last line that typed text would answer: Aider rings its
    /// notification before a yes/no question too ("... (Y)es/(N)o [Yes]: "), which its
    /// notifications command cannot tell apart from waiting at its prompt.
    public var waitingPattern: String? {
        switch self {
        case .aider: #"\(Y\)es/\(N\)o.*\]: *$"#
        case .claudeCode, .codex: nil
        }
    }
}
