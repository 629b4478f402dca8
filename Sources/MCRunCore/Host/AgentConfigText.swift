import Foundation

/// The settings files of agents that read TOML (Codex) or YAML (Aider), changed as text:
/// mcrun adds the one key its report needs and leaves every other line, comment and
/// ordering of the person's file as it was. A key that is already set to something else
/// is the person's: it is refused, never replaced.
public enum AgentConfigText {
    public struct Merge: Sendable, Equatable {
        public var text: String
        /// One line per change; empty when everything was already there.
        public var changes: [String]
    }

    /// The notify program for Codex, as a TOML array (also valid JSON).
    public static let codexNotify = #"["mcrun", "agent", "report", "--from", "codex"]"#

    /// Adds `notify = [...]` to Codex's config.toml: a top-level key, so it goes before the
    /// first table header (a key after one would belong to that table). A `notify` already
    /// set to another program is refused: Codex runs only one.
    public static func mergeCodex(_ text: String) throws(MCRunError) -> Merge {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var firstTable: Int?
        var depth = 0
        var multiline: String?
        var notify: (line: Int, value: String)?
        var collecting = false
        for (i, line) in lines.enumerated() {
            if let quote = multiline {
                if line.contains(quote) { multiline = nil }
                continue
            }
            let trimmed = line.trimmingLeadingWhitespace()
            if depth == 0 {
                collecting = false
                if trimmed.hasPrefix("[") {
                    firstTable = i
                    break
                }
                if trimmed.hasPrefix("#") || trimmed.isEmpty { continue }
                let key = trimmed.prefix { $0 != "=" }.trimmingTrailingWhitespace()
                if key == "notify" || key == "\"notify\"" || key == "'notify'" {
                    notify = (i, String(trimmed.drop { $0 != "=" }.dropFirst()))
                    collecting = true
                }
            } else if collecting {
                notify?.value += "\n" + line
            }
            for quote in ["\"\"\"", "'''"] where line.components(separatedBy: quote).count == 2 { multiline = quote }
            depth = max(0, depth + bracketBalance(line))
        }
        guard multiline == nil, depth == 0 else {
            throw .badInput("bad_settings", "the file has an unterminated string or array; fix it and run this again; nothing was changed")
        }
        if let notify {
            let value = stripComment(notify.value)
            if let existing = JSONValue.parse(value)?.arrayValue?.compactMap(\.stringValue),
                existing == JSONValue.parse(codexNotify)?.arrayValue?.compactMap(\.stringValue)
            {
                return Merge(text: text, changes: [])
            }
            throw .badInput(
                "notify_taken",
                "line \(notify.line + 1) sets notify to another program (\(value.trimmingTrailingWhitespace())); Codex runs only one: remove it, or give mcrun's to each runtime with `codex -c 'notify=\(codexNotify)'`; nothing was changed"
            )
        }
        let added = ["# mcrun: each turn's end is reported to mcrun (does nothing outside an mcrun runtime)", "notify = \(codexNotify)"]
        var out = lines
        if let firstTable {
            out.insert(contentsOf: added + [""], at: firstTable)
        } else {
            if out.last == "" { out.removeLast() }
            if let last = out.last, !last.trimmingLeadingWhitespace().isEmpty { out.append("") }
            out += added + [""]
        }
        if text.isEmpty { out = added + [""] }
        return Merge(text: out.joined(separator: "\n"), changes: ["add notify = \(codexNotify) (top level)"])
    }

    /// Aider's command and the switch that makes it run.
    public static let aiderKeys: [(key: String, value: String)] = [
        ("notifications", "true"), ("notifications-command", "mcrun agent report --from aider"),
    ]

    /// Adds `notifications: true` and `notifications-command: ...` to Aider's
    /// .aider.conf.yml: top-level keys, appended at the end. Either key already set to
    /// another value is refused.
    public static func mergeAider(_ text: String) throws(MCRunError) -> Merge {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let first = lines.first(where: {
            let t = $0.trimmingLeadingWhitespace()
            return !t.isEmpty && !t.hasPrefix("#") && t != "---"
        }),
            first.trimmingLeadingWhitespace().hasPrefix("{")
        {
            throw .badInput("bad_settings", "the file is a flow-style YAML mapping; write it one key per line and run this again; nothing was changed")
        }
        var missing: [(key: String, value: String)] = []
        for (key, value) in aiderKeys {
            let found = lines.enumerated().first { $0.element.hasPrefix(key + ":") }
            guard let (index, line) = found else {
                missing.append((key, value))
                continue
            }
            var existing = stripComment(String(line.dropFirst(key.count + 1))).trimmingLeadingWhitespace().trimmingTrailingWhitespace()
            if existing.count >= 2, let q = existing.first, q == "\"" || q == "'", existing.last == q {
                existing = String(existing.dropFirst().dropLast())
            }
            guard existing == value || (value == "true" && ["True", "yes", "on"].contains(existing)) else {
                throw .badInput(
                    "\(key.replacingOccurrences(of: "-", with: "_"))_taken",
                    "line \(index + 1) sets \(key) to \(existing.debugDescription); mcrun needs \(value.debugDescription): change it, or pass --\(key) on the start command; nothing was changed"
                )
            }
        }
        guard !missing.isEmpty else { return Merge(text: text, changes: []) }
        var out = lines
        if out.last == "" { out.removeLast() }
        if !out.isEmpty, out.last?.trimmingLeadingWhitespace().isEmpty == false { out.append("") }
        out.append("# mcrun: the end of each reply is reported to mcrun (does nothing outside an mcrun runtime)")
        out += missing.map { "\($0.key): \($0.value)" }
        out.append("")
        return Merge(text: out.joined(separator: "\n"), changes: missing.map { "add \($0.key): \($0.value)" })
    }

    /// `[` minus `]` outside strings and comments: how far a line opens an array.
    static func bracketBalance(_ line: String) -> Int {
        var balance = 0
        var quote: Character?
        var escaped = false
        for c in line {
            if let q = quote {
                if escaped { escaped = false } else if c == "\\" && q == "\"" { escaped = true } else if c == q { quote = nil }
                continue
            }
            switch c {
            case "\"", "'": quote = c
            case "#": return balance
            case "[": balance += 1
            case "]": balance -= 1
            default: break
            }
        }
        return balance
    }

    /// A value without its trailing `# comment` (a `#` inside quotes is kept).
    static func stripComment(_ value: String) -> String {
        var out = ""
        var quote: Character?
        for line in value.split(separator: "\n", omittingEmptySubsequences: false) {
            var kept = ""
            for c in line {
                if let q = quote {
                    if c == q { quote = nil }
                } else if c == "\"" || c == "'" {
                    quote = c
                } else if c == "#" {
                    break
                }
                kept.append(c)
            }
            out += (out.isEmpty ? "" : "\n") + kept
        }
        return out
    }
}

extension String {
    func trimmingLeadingWhitespace() -> String { String(drop { $0 == " " || $0 == "\t" }) }
    func trimmingTrailingWhitespace() -> String { String(reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed()) }
}

extension Substring {
    func trimmingTrailingWhitespace() -> String { String(self).trimmingTrailingWhitespace() }
}
