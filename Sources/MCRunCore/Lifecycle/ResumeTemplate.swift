import Foundation

/// The argv that resumes an agent's own session on a relaunch (`start --resume-argv`), for
/// example `claude --resume {session_id}`. It is an argv, never a shell line: each word is
/// one argument, `{session_id}` is replaced by the id the agent's hooks recorded, and
/// nothing else is interpreted.
public enum ResumeTemplate {
    public static let placeholder = "{session_id}"

    /// Reads the template as given on the command line: a JSON array of strings (for
    /// arguments with spaces), or words separated by spaces. Nil when it is empty, is not
    /// such an array, or names a placeholder other than `{session_id}`.
    public static func parse(_ text: String) -> [String]? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var words: [String]
        if trimmed.hasPrefix("[") {
            guard let array = JSONValue.parse(trimmed)?.arrayValue else { return nil }
            words = []
            for item in array {
                guard let word = item.stringValue else { return nil }
                words.append(word)
            }
        } else {
            words = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        }
        guard let first = words.first, !first.isEmpty, words.allSatisfy({ !$0.contains("\0") && !$0.contains(where: \.isNewline) }) else {
            return nil
        }
        for word in words where hasUnknownPlaceholder(word) { return nil }
        return words
    }

    /// The argv a relaunch runs: the template with the recorded session id, or nil when
    /// there is no template or no session to resume.
    public static func argv(_ template: [String]?, sessionID: String?) -> [String]? {
        guard let template, let sessionID, !sessionID.isEmpty else { return nil }
        return template.map { $0.replacingOccurrences(of: placeholder, with: sessionID) }
    }

    static func hasUnknownPlaceholder(_ word: String) -> Bool {
        var rest = Substring(word)
        while let open = rest.firstIndex(of: "{") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "}") else { return false }
            let name = after[..<close]
            if !name.isEmpty, name.allSatisfy({ $0.isLetter || $0 == "_" }), "{\(name)}" != placeholder { return true }
            rest = after[after.index(after: close)...]
        }
        return false
    }
}
