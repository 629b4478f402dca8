/// An agent's settings file (Claude Code's `.claude/settings.json`) with mcrun's hooks and
/// permission rules merged in. The person's own entries are kept as they are; only what
/// is missing is added, so a second merge changes nothing. Hooks an earlier mcrun shipped
/// (`mcrun activity busy|idle`, which exit 2 outside a runtime and so block the agent) are
/// replaced.
public enum AgentSettings {
    /// The hook commands earlier versions of mcrun shipped.
    public static let retiredCommands: Set<String> = [
        "mcrun activity busy", "mcrun activity idle", "mcrun hook activity busy", "mcrun hook activity idle",
    ]

    public struct Merge: Sendable, Equatable {
        public var settings: JSONValue
        /// One line per change (`add ...`, `remove ...`), in the order made; empty when nothing was missing.
        public var changes: [String]
    }

    /// Merges `shipped` (mcrun's configuration: `hooks` by event, `permissions.allow`) into
    /// `existing`. A settings value of an unexpected shape (`hooks` not an object, an event
    /// not a list, `permissions.allow` not a list) is bad input: nothing is guessed.
    public static func merge(_ shipped: JSONValue, into existing: JSONValue) throws(MCRunError) -> Merge {
        guard var settings = existing.objectValue else { throw bad("the file is not a JSON object") }
        var changes: [String] = []
        var hooks = try object(settings["hooks"], "hooks")
        // Retired mcrun hooks go first, wherever they are.
        for event in hooks.keys.sorted() {
            var groups = try list(hooks[event], "hooks.\(event)")
            var changed = false
            for (g, group) in groups.enumerated().reversed() {
                guard var fields = group.objectValue, let entries = fields["hooks"]?.arrayValue else { continue }
                let kept = entries.filter { entry in
                    guard let command = entry["command"]?.stringValue, retiredCommands.contains(command) else { return true }
                    changes.append("remove \(event) hook `\(command)` (an earlier mcrun's: it exits 2 outside a runtime, which blocks the agent)")
                    return false
                }
                guard kept.count != entries.count else { continue }
                changed = true
                if kept.isEmpty {
                    groups.remove(at: g)
                } else {
                    fields["hooks"] = .array(kept)
                    groups[g] = .object(fields)
                }
            }
            if changed { hooks[event] = groups.isEmpty ? nil : .array(groups) }
        }
        for (event, shippedGroups) in (shipped["hooks"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            var groups = try list(hooks[event], "hooks.\(event)")
            let present = Set(groups.flatMap { $0["hooks"]?.arrayValue ?? [] }.compactMap { $0["command"]?.stringValue })
            for group in shippedGroups.arrayValue ?? [] {
                let missing = (group["hooks"]?.arrayValue ?? []).filter { hook in
                    hook["command"]?.stringValue.map { !present.contains($0) } ?? false
                }
                guard !missing.isEmpty else { continue }
                groups.append(group.merging(["hooks": .array(missing)]))
                for hook in missing {
                    changes.append("add \(event) hook `\(hook["command"]?.stringValue ?? "")`\(group["matcher"]?.stringValue.map { " (matcher \($0))" } ?? "")")
                }
            }
            hooks[event] = groups.isEmpty ? nil : .array(groups)
        }
        if !hooks.isEmpty || settings["hooks"] != nil { settings["hooks"] = .object(hooks) }

        let rules = shipped["permissions"]?["allow"]?.arrayValue ?? []
        if !rules.isEmpty {
            var permissions = try object(settings["permissions"], "permissions")
            var allow = try list(permissions["allow"], "permissions.allow")
            for rule in rules where !allow.contains(rule) {
                allow.append(rule)
                changes.append("add permission rule `\(rule.stringValue ?? rule.jsonText)` to permissions.allow")
            }
            permissions["allow"] = .array(allow)
            settings["permissions"] = .object(permissions)
        }
        return Merge(settings: changes.isEmpty ? existing : .object(settings), changes: changes)
    }

    /// Parses a settings file as the agent will: strict JSON. Foundation's decoder also
    /// takes a trailing comma (`{"a": 1,}`), which the agent's parser refuses; such a file
    /// is the person's to fix, not mcrun's to rewrite.
    public static func parse(_ text: String) -> JSONValue? {
        guard !hasTrailingComma(text) else { return nil }
        return JSONValue.parse(text)
    }

    static func hasTrailingComma(_ text: String) -> Bool {
        var inString = false
        var escaped = false
        var afterComma = false
        for byte in text.utf8 {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: " "), 0x09, 0x0A, 0x0D: continue
            case UInt8(ascii: "}"), UInt8(ascii: "]"): if afterComma { return true }
            case UInt8(ascii: "\""): inString = true
            default: break
            }
            afterComma = byte == UInt8(ascii: ",")
        }
        return false
    }

    static func object(_ value: JSONValue?, _ name: String) throws(MCRunError) -> [String: JSONValue] {
        guard let value, value != .null else { return [:] }
        guard let object = value.objectValue else { throw bad("\(name) is not a JSON object") }
        return object
    }

    static func list(_ value: JSONValue?, _ name: String) throws(MCRunError) -> [JSONValue] {
        guard let value, value != .null else { return [] }
        guard let list = value.arrayValue else { throw bad("\(name) is not a JSON list") }
        return list
    }

    static func bad(_ what: String) -> MCRunError {
        .badInput("bad_settings", what)
    }
}

extension JSONValue {
    /// JSON text for a file a person edits: two-space indentation, sorted keys, a final newline.
    public var prettyJSONText: String {
        var out: [UInt8] = []
        writePretty(to: &out, indent: 0)
        out.append(0x0A)
        return String(decoding: out, as: UTF8.self)
    }

    func writePretty(to out: inout [UInt8], indent: Int) {
        func newline(_ level: Int) {
            out.append(0x0A)
            out += [UInt8](repeating: 0x20, count: level * 2)
        }
        switch self {
        case .array(let a) where !a.isEmpty:
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                v.writePretty(to: &out, indent: indent + 1)
            }
            newline(indent)
            out.append(UInt8(ascii: "]"))
        case .object(let o) where !o.isEmpty:
            out.append(UInt8(ascii: "{"))
            for (i, key) in o.keys.sorted().enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                Self.writeString(key, to: &out)
                out += Array(": ".utf8)
                o[key]!.writePretty(to: &out, indent: indent + 1)
            }
            newline(indent)
            out.append(UInt8(ascii: "}"))
        default:
            write(to: &out)
        }
    }
}
