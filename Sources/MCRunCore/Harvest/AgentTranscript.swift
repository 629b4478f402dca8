import Foundation
import Glibc

/// The agent's own record of its session, read for `harvest`: Claude Code's transcript, one
/// JSON object per line (`type` `user` or `assistant`, the API message under `message`,
/// whose `content` is a string or a list of blocks: `text`, `tool_use`, `tool_result`), or
/// Codex's rollout file (`type` `response_item`, whose `payload` is an assistant `message`
/// with `output_text` blocks or a `function_call_output`).
/// What an episode came to is its last assistant message with text, and the results of the
/// tools it called after it (an agent that died mid-tool). Lines it does not know (summaries,
/// system entries, a half-written last line) are skipped.
public struct AgentTranscript: Sendable, Equatable {
    /// The text of the last assistant message that had text.
    public var lastAssistantMessage: String
    /// The results of tool calls after that message, in order, each at most `resultLimit` characters.
    public var toolResults: [String]

    /// Only the end of a long transcript is read.
    public static let readLimit = 8 << 20
    public static let resultLimit = 2_000

    /// Reads the transcript at `path`: nil when it is not a readable regular `.jsonl` file
    /// or holds no assistant message with text.
    public static func read(_ path: String) -> AgentTranscript? {
        guard path.hasPrefix("/"), path.hasSuffix(".jsonl") else { return nil }
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, let bytes = PaneLog.readTail(path, maxBytes: readLimit) else { return nil }
        return parse(PaneLog.lines(bytes))
    }

    public static func parse(_ lines: [String]) -> AgentTranscript? {
        var found: AgentTranscript?
        var messageID: String?
        for line in lines {
            guard line.hasPrefix("{"), let entry = JSONValue.parse(line) else { continue }
            if entry["type"]?.stringValue == "response_item", let payload = entry["payload"] {
                switch payload["type"]?.stringValue {
                case "message" where payload["role"]?.stringValue == "assistant":
                    let text = blocks(payload["content"]).compactMap { $0["text"]?.stringValue }.joined(separator: "\n")
                    if !text.isEmpty { found = AgentTranscript(lastAssistantMessage: text, toolResults: []) }
                    messageID = nil
                case "function_call_output", "custom_tool_call_output":
                    guard found != nil else { continue }
                    var output = Self.text(payload["output"])
                    // Shell calls wrap their output: {"output": "...", "metadata": {...}}.
                    if let wrapped = JSONValue.parse(output)?["output"]?.stringValue { output = wrapped }
                    found?.toolResults.append("tool result: " + String(output.prefix(resultLimit)))
                default:
                    break
                }
                continue
            }
            guard let message = entry["message"] else { continue }
            let blocks = Self.blocks(message["content"])
            switch entry["type"]?.stringValue {
            case "assistant":
                let text = blocks.compactMap { $0["type"]?.stringValue == "text" ? $0["text"]?.stringValue : nil }.joined(separator: "\n")
                guard !text.isEmpty else { continue }
                // Claude Code writes one line per content block: the blocks of one message share its id.
                let id = message["id"]?.stringValue
                if let current = found, id != nil, id == messageID, current.toolResults.isEmpty {
                    found?.lastAssistantMessage = current.lastAssistantMessage + "\n" + text
                } else {
                    found = AgentTranscript(lastAssistantMessage: text, toolResults: [])
                }
                messageID = id
            case "user":
                guard found != nil else { continue }
                for block in blocks where block["type"]?.stringValue == "tool_result" {
                    let content = Self.text(block["content"])
                    let error = block["is_error"] == .bool(true) ? " (error)" : ""
                    found?.toolResults.append("tool result\(error): " + String(content.prefix(resultLimit)))
                }
            default:
                continue
            }
        }
        return found
    }

    /// Codex's rollout file of a thread: `rollout-TIME-THREAD.jsonl` under
    /// `$CODEX_HOME/sessions/YYYY/MM/DD/` (default `~/.codex`), newest days first, at most
    /// `days` day folders looked at. Nil when none is found.
    public static func codexRollout(threadID: String, environment: [String: String], days: Int = 400) -> String? {
        guard !threadID.isEmpty, !threadID.contains("/") else { return nil }
        let home = environment["CODEX_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? environment["HOME"].map { $0 + "/.codex" }
        guard let root = home.map({ $0 + "/sessions" }) else { return nil }
        let files = FileManager.default
        func newestFirst(_ dir: String) -> [String] {
            ((try? files.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.allSatisfy(\.isNumber) }.sorted(by: >)
        }
        var looked = 0
        for year in newestFirst(root) {
            for month in newestFirst("\(root)/\(year)") {
                for day in newestFirst("\(root)/\(year)/\(month)") {
                    looked += 1
                    if looked > days { return nil }
                    let dir = "\(root)/\(year)/\(month)/\(day)"
                    let names = (try? files.contentsOfDirectory(atPath: dir)) ?? []
                    if let name = names.first(where: { $0.hasPrefix("rollout-") && $0.hasSuffix("-\(threadID).jsonl") }) { return "\(dir)/\(name)" }
                }
            }
        }
        return nil
    }

    /// The transcript as harvest prints it: the message's lines, then each tool result's.
    public var lines: [String] {
        var out = lastAssistantMessage.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for result in toolResults { out += result.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
        return out
    }

    static func blocks(_ content: JSONValue?) -> [JSONValue] {
        if let text = content?.stringValue { return [["type": "text", "text": .string(text)]] }
        return content?.arrayValue ?? []
    }

    /// A tool result's content: a string, or text blocks.
    static func text(_ content: JSONValue?) -> String {
        if let text = content?.stringValue { return text }
        return (content?.arrayValue ?? []).compactMap { $0["text"]?.stringValue }.joined(separator: "\n")
    }
}
