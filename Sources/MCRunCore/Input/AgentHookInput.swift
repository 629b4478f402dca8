/// What an agent's hook system passes on stdin, read as an activity report. Claude Code
/// sends one JSON object per hook call with `hook_event_name`, `session_id`,
/// `transcript_path`, `cwd` and fields of its own per event; mcrun needs nothing built
/// from it on the command line.
public struct AgentHookInput: Sendable, Equatable {
    /// `hook_event_name`, when the input named one.
    public var event: String?
    /// What the event says about the agent; nil when it says nothing about its activity
    /// (a session start, a compaction, a notification that is not about input).
    public var report: Activity.Report?
    /// What a waiting agent waits for (`permission_prompt`, `elicitation_dialog`).
    public var detail: String?
    /// The agent's own session (`session_id`, `transcript_path`), when the input names one
    /// that fits: an id of at most 200 bytes, an absolute path of at most 4096.
    public var session: Activity.AgentSession?
    /// The prompts the agent received (Claude Code `UserPromptSubmit`'s `prompt`, the
    /// `input-messages` of a turn Codex completed): receipts of messages `send` pasted (see
    /// `DeliveryReceipt`).
    public var prompts: [String] = []

    /// Reads the hook's input. Turn starts and tool calls are busy, the end of a turn is
    /// idle. A permission dialog, or a dialog asking the person for input, is waiting.
    /// Claude Code's `idle_prompt` notification ("Claude is waiting for your input") means
    /// it sits at its prompt, which is what `send` types into: idle, not waiting.
    public static func classify(_ json: JSONValue) -> AgentHookInput {
        let event = json["hook_event_name"]?.stringValue
        var input = AgentHookInput(event: event, report: nil, detail: nil, session: nil)
        if let id = json["session_id"]?.stringValue, !id.isEmpty, id.utf8.count <= 200, !id.contains(where: \.isNewline) {
            let path = json["transcript_path"]?.stringValue.flatMap {
                $0.hasPrefix("/") && $0.utf8.count <= 4096 && !$0.contains(where: \.isNewline) ? $0 : nil
            }
            input.session = Activity.AgentSession(id: id, transcriptPath: path)
        }
        switch event {
        case "UserPromptSubmit":
            input.report = .busy
            input.prompts = json["prompt"]?.stringValue.map { [$0] } ?? []
        case "PreToolUse", "PostToolUse", "PostToolUseFailure":
            input.report = .busy
        case "Stop":
            input.report = .idle
        case "PermissionRequest":
            input.report = .waiting
            input.detail = "permission_prompt"
        case "Notification":
            switch json["notification_type"]?.stringValue ?? legacyNotificationType(json["message"]?.stringValue) {
            case "permission_prompt":
                input.report = .waiting
                input.detail = "permission_prompt"
            case "elicitation_dialog":
                input.report = .waiting
                input.detail = "elicitation_dialog"
            case "idle_prompt":
                input.report = .idle
            default:
                break
            }
        default:
            break
        }
        return input
    }

    /// Reads Codex's `notify` payload, the JSON object Codex appends as the notify program's
    /// last argument: `type` `agent-turn-complete` (with `thread-id`, `turn-id`, `cwd`,
    /// `input-messages`, `last-assistant-message`) ends a turn: idle, and its input messages
    /// are receipts. `agent-turn-start` (sent by some versions) is busy, and
    /// `approval-requested` (the name Codex gives an approval prompt in its TUI
    /// notifications) is waiting. The thread id is the session
    /// `codex resume` takes; Codex names no transcript file.
    public static func classifyCodex(_ json: JSONValue) -> AgentHookInput {
        let type = json["type"]?.stringValue
        var input = AgentHookInput(event: type, report: nil, detail: nil, session: nil)
        if let id = json["thread-id"]?.stringValue, !id.isEmpty, id.utf8.count <= 200, !id.contains(where: \.isNewline) {
            input.session = Activity.AgentSession(id: id, transcriptPath: nil)
        }
        switch type {
        case "agent-turn-complete":
            input.report = .idle
            // The person's messages of the turn: a receipt, late (at the turn's end) but
            // from the agent itself. Codex sends at most a few; more is not a receipt.
            input.prompts = Array((json["input-messages"]?.arrayValue ?? []).compactMap(\.stringValue).prefix(16))
        case "agent-turn-start":
            input.report = .busy
        case "approval-requested":
            input.report = .waiting
            input.detail = "approval_requested"
        default:
            break
        }
        return input
    }

    /// Aider runs its notifications command, with no arguments and nothing on stdin, when a
    /// reply of the model has ended and it waits at its prompt: idle.
    public static let aiderWaitingForInput = AgentHookInput(event: "notifications-command", report: .idle, detail: nil, session: nil)

    /// Versions of Claude Code before `notification_type` said it only in the message:
    /// "Claude needs your permission to use Bash", "Claude is waiting for your input".
    static func legacyNotificationType(_ message: String?) -> String? {
        guard let message = message?.lowercased() else { return nil }
        if message.contains("permission") { return "permission_prompt" }
        if message.contains("waiting for your input") { return "idle_prompt" }
        return nil
    }
}
