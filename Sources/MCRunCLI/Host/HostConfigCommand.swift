import ArgumentParser
import MCRunCore

struct HostConfigCommand: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show or change a host setting kept in the ledger.",
        discussion: """
            mcrun config                     show every setting
            mcrun config KEY                 show one
            mcrun config KEY VALUE|none      set or clear it
            Keys: \(HostConfig.Key.allCases.map { "\n  \($0.rawValue): \($0.help)" }.joined())
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "capacity, busy-pattern, busy-window or interrupt-key.")
    var key: String?

    @Argument(help: "The new value; none clears it.")
    var value: String?

    func execute() throws(MCRunError) -> Reply {
        var parsed: HostConfig.Key?
        if let key {
            guard let k = HostConfig.Key(rawValue: key) else {
                throw .badInput("bad_key", "unknown setting \(key.debugDescription); use one of: \(HostConfig.Key.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            parsed = k
        }
        if let parsed, let value { _ = try HostConfig.normalise(parsed, value) }
        let context = try global.context()
        if let parsed, let value {
            let stored = try HostConfig.set(parsed, value, ledger: context.ledger, actor: context.actor)
            return Reply(fields: ["key": .string(parsed.rawValue), "value": JSONValue(stored)], human: "\(parsed.rawValue) = \(stored ?? "none")")
        }
        let keys = parsed.map { [$0] } ?? HostConfig.Key.allCases
        let values = try context.ledger.settings(keys)
        var fields: [String: JSONValue] = [:]
        for (k, v) in values { fields[k.rawValue] = JSONValue(v) }
        return Reply(fields: ["settings": .object(fields)], human: values.map { "\($0.0.rawValue) = \($0.1 ?? "none")" }.joined(separator: "\n"))
    }
}
