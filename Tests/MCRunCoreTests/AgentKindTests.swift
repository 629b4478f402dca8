import Foundation
import Glibc
import MCRunCore
import Testing

/// What mcrun knows per agent: the Codex notify payload, the resume template, the agent's
/// transcript and the text edits of Codex's and Aider's settings.
struct AgentKindTests {
    @Test func theAgentIsDerivedFromTheCommandsName() {
        #expect(AgentKind.derive(argv: ["claude", "--resume", "x"]) == .claudeCode)
        #expect(AgentKind.derive(argv: ["/usr/local/bin/codex"]) == .codex)
        #expect(AgentKind.derive(argv: ["aider", "--yes-always"]) == .aider)
        #expect(AgentKind.derive(argv: ["sh", "codex"]) == nil)
        #expect(AgentKind.derive(argv: []) == nil)
    }

    @Test func codexNotificationsMapToReports() {
        func classify(_ text: String) -> AgentHookInput { AgentHookInput.classifyCodex(JSONValue.parse(text) ?? .null) }
        let done = classify(
            #"{"type":"agent-turn-complete","thread-id":"0199a213-81c0","turn-id":"7","cwd":"/p","input-messages":["x"],"last-assistant-message":"ok"}"#)
        #expect(done.report == .idle)
        #expect(done.session == Activity.AgentSession(id: "0199a213-81c0", transcriptPath: nil))
        #expect(classify(#"{"type":"agent-turn-start","thread-id":"t"}"#).report == .busy)
        let approval = classify(#"{"type":"approval-requested"}"#)
        #expect(approval.report == .waiting && approval.detail == "approval_requested")
        #expect(classify(#"{"type":"something-new","thread-id":"t"}"#).report == nil)
        #expect(classify(#"{"type":"agent-turn-complete","thread-id":"a\nb"}"#).session == nil)
    }

    @Test func aResumeTemplateIsAnArgvWithOnePlaceholder() {
        #expect(ResumeTemplate.parse("claude --resume {session_id}") == ["claude", "--resume", "{session_id}"])
        #expect(ResumeTemplate.parse(#"["codex", "resume", "{session_id}", "go on"]"#) == ["codex", "resume", "{session_id}", "go on"])
        #expect(ResumeTemplate.parse("codex resume --last") == ["codex", "resume", "--last"])
        #expect(ResumeTemplate.parse("codex -c x={a=1}") == ["codex", "-c", "x={a=1}"])
        for bad in ["", "   ", "[]", "[1]", #"[""]"#, #"["a""#, "claude --resume {session}", "run {SESSION_ID}"] {
            #expect(ResumeTemplate.parse(bad) == nil, "\(bad)")
        }
        let template = ["claude", "--resume", "{session_id}", "--name=s-{session_id}"]
        #expect(ResumeTemplate.argv(template, sessionID: "abc") == ["claude", "--resume", "abc", "--name=s-abc"])
        #expect(ResumeTemplate.argv(template, sessionID: nil) == nil)
        #expect(ResumeTemplate.argv(template, sessionID: "") == nil)
        #expect(ResumeTemplate.argv(nil, sessionID: "abc") == nil)
    }

    @Test func theTranscriptsLastMessageIsMergedAcrossItsBlocks() {
        let lines = [
            #"{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"first"}]}}"#,
            #"{"type":"user","message":{"content":[{"type":"tool_result","content":"r1"}]}}"#,
            #"{"type":"assistant","message":{"id":"m2","content":[{"type":"text","text":"second"}]}}"#,
            #"{"type":"assistant","message":{"id":"m2","content":[{"type":"text","text":"more"}]}}"#,
            #"{"type":"assistant","message":{"id":"m2","content":[{"type":"tool_use","id":"t","name":"Bash","input":{}}]}}"#,
            #"{"type":"user","message":{"content":[{"type":"tool_result","content":[{"type":"text","text":"boom"}],"is_error":true}]}}"#,
            #"{"type":"user","message":{"content":"a new prompt, not a tool result"}}"#,
            "not json",
        ]
        let transcript = AgentTranscript.parse(lines)
        #expect(transcript?.lastAssistantMessage == "second\nmore")
        #expect(transcript?.toolResults == ["tool result (error): boom"])
        #expect(AgentTranscript.parse([#"{"type":"user","message":{"content":"hi"}}"#]) == nil)
        #expect(AgentTranscript.read("/etc/passwd") == nil)
    }

    @Test func codexRolloutsAreReadAndFoundByThread() throws {
        let lines = [
            #"{"type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"old"}]}}"#,
            #"{"type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"go"}]}}"#,
            #"{"type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"new"}]}}"#,
            #"{"type":"response_item","payload":{"type":"function_call_output","call_id":"c","output":"{\"output\":\"ok\",\"metadata\":{}}"}}"#,
            #"{"type":"response_item","payload":{"type":"custom_tool_call_output","call_id":"d","output":"plain"}}"#,
        ]
        let transcript = AgentTranscript.parse(lines)
        #expect(transcript?.lastAssistantMessage == "new")
        #expect(transcript?.toolResults == ["tool result: ok", "tool result: plain"])

        let root = NSTemporaryDirectory() + "mcrun-rollout-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        for day in ["2026/11/30", "2026/12/01"] {
            try FileManager.default.createDirectory(atPath: "\(root)/sessions/\(day)", withIntermediateDirectories: true)
        }
        let path = "\(root)/sessions/2026/11/30/rollout-2026-11-30T09-00-00-t-1.jsonl"
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        #expect(AgentTranscript.codexRollout(threadID: "t-1", environment: ["CODEX_HOME": root]) == path)
        #expect(AgentTranscript.codexRollout(threadID: "t-1", environment: ["HOME": "/nowhere", "CODEX_HOME": root]) == path)
        #expect(AgentTranscript.codexRollout(threadID: "t-1", environment: ["CODEX_HOME": root], days: 1) == nil)
        #expect(AgentTranscript.codexRollout(threadID: "t-2", environment: ["CODEX_HOME": root]) == nil)
        #expect(AgentTranscript.codexRollout(threadID: "../t-1", environment: ["CODEX_HOME": root]) == nil)
    }

    @Test func codexNotifyGoesBeforeTheFirstTableAndNeverReplacesAnother() throws {
        let line = "notify = " + AgentConfigText.codexNotify
        let withTable = "model = \"o3\"\nmulti = \"\"\"\n[not a table]\n\"\"\"\n\n[tui]\nnotifications = true\n"
        let merged = try AgentConfigText.mergeCodex(withTable)
        #expect(merged.text.hasPrefix("model = \"o3\"\nmulti = \"\"\"\n[not a table]\n\"\"\"\n\n"))
        #expect(merged.text.contains(line + "\n\n[tui]\n"))
        #expect(try AgentConfigText.mergeCodex(merged.text).changes.isEmpty)
        // Written by hand over several lines, with a comment: still ours.
        let multiline = "notify = [\n  \"mcrun\", \"agent\", \"report\", # mcrun\n  \"--from\", \"codex\",\n]\n"
        #expect(try AgentConfigText.mergeCodex(multiline).changes.isEmpty)
        // A table's own notify key is not the top-level one.
        let inTable = "[profiles.x]\nnotify = [\"other\"]\n"
        #expect(try AgentConfigText.mergeCodex(inTable).text.hasPrefix("# mcrun: "))
        #expect(throws: MCRunError.self) { try AgentConfigText.mergeCodex("notify = [\"terminal-notifier\"]\n") }
        #expect(throws: MCRunError.self) { try AgentConfigText.mergeCodex("x = [\n1,\n") }
        #expect(try AgentConfigText.mergeCodex("").text == "# mcrun: each turn's end is reported to mcrun (does nothing outside an mcrun runtime)\n\(line)\n")
    }

    @Test func aiderKeysAreAppendedOnceAndOthersRefused() throws {
        let merged = try AgentConfigText.mergeAider("model: sonnet")
        #expect(merged.text.hasPrefix("model: sonnet\n\n# mcrun: "))
        #expect(merged.text.hasSuffix("notifications: true\nnotifications-command: mcrun agent report --from aider\n"))
        #expect(try AgentConfigText.mergeAider(merged.text).changes.isEmpty)
        let half = try AgentConfigText.mergeAider("notifications: yes # mine\n")
        #expect(half.changes == ["add notifications-command: mcrun agent report --from aider"])
        #expect(try AgentConfigText.mergeAider("notifications-command: 'mcrun agent report --from aider'\nnotifications: true\n").changes.isEmpty)
        #expect(throws: MCRunError.self) { try AgentConfigText.mergeAider("notifications-command: notify-send Aider\n") }
        #expect(throws: MCRunError.self) { try AgentConfigText.mergeAider("{model: sonnet}\n") }
    }
}
