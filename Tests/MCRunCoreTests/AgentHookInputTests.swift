import MCRunCore
import Testing

struct AgentHookInputTests {
    func classify(_ text: String) -> AgentHookInput {
        AgentHookInput.classify(JSONValue.parse(text) ?? .null)
    }

    @Test func claudeCodeEventsMapToReports() {
        #expect(classify(#"{"hook_event_name":"UserPromptSubmit","prompt":"x"}"#).report == .busy)
        #expect(classify(#"{"hook_event_name":"PreToolUse","tool_name":"Bash"}"#).report == .busy)
        #expect(classify(#"{"hook_event_name":"PostToolUse"}"#).report == .busy)
        #expect(classify(#"{"hook_event_name":"PostToolUseFailure"}"#).report == .busy)
        #expect(classify(#"{"hook_event_name":"Stop"}"#).report == .idle)
        let permission = classify(#"{"hook_event_name":"PermissionRequest","tool_name":"Bash"}"#)
        #expect(permission.report == .waiting && permission.detail == "permission_prompt")
    }

    @Test func notificationsByTypeAndByMessage() {
        #expect(classify(#"{"hook_event_name":"Notification","notification_type":"permission_prompt"}"#).report == .waiting)
        let elicitation = classify(#"{"hook_event_name":"Notification","notification_type":"elicitation_dialog"}"#)
        #expect(elicitation.report == .waiting && elicitation.detail == "elicitation_dialog")
        #expect(classify(#"{"hook_event_name":"Notification","notification_type":"idle_prompt"}"#).report == .idle)
        #expect(classify(#"{"hook_event_name":"Notification","notification_type":"auth_success"}"#).report == nil)
        // Before notification_type, only the message said which it was.
        #expect(classify(#"{"hook_event_name":"Notification","message":"Claude needs your permission to use Bash"}"#).report == .waiting)
        #expect(classify(#"{"hook_event_name":"Notification","message":"Claude is waiting for your input"}"#).report == .idle)
        #expect(classify(#"{"hook_event_name":"Notification","message":"Something else"}"#).report == nil)
    }

    @Test func otherInputSaysNothing() {
        #expect(classify(#"{"hook_event_name":"SessionStart","source":"compact"}"#).report == nil)
        #expect(classify(#"{"hook_event_name":"SubagentStop"}"#).report == nil)
        #expect(classify(#"{"session_id":"x"}"#).report == nil)
        #expect(classify("[1]").report == nil)
        #expect(classify(#"{"hook_event_name":7}"#).report == nil)
    }

    @Test func theAgentsSessionIsReadWhenItFits() {
        let input = classify(#"{"hook_event_name":"SessionStart","session_id":"abc","transcript_path":"/h/.claude/p/abc.jsonl"}"#)
        #expect(input.report == nil)
        #expect(input.session == Activity.AgentSession(id: "abc", transcriptPath: "/h/.claude/p/abc.jsonl"))
        #expect(classify(#"{"session_id":"abc","transcript_path":"relative.jsonl"}"#).session == Activity.AgentSession(id: "abc", transcriptPath: nil))
        #expect(classify(#"{"session_id":"a\nb"}"#).session == nil)
        #expect(classify(#"{"session_id":""}"#).session == nil)
        #expect(classify(#"{"session_id":"\#(String(repeating: "x", count: 201))"}"#).session == nil)
    }
}
