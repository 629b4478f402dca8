import ArgumentParser
import MCRunCore

struct HostConfigCommand: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show or change a host setting kept in the ledger.",
        discussion: """
            mcrun config                 every setting: its effective value and source
            mcrun config KEY             one setting
            mcrun config KEY VALUE|none  set it, or clear it back to its default
            The source is `default` (nothing stored), `ledger` (set with mcrun config)
            or `flag` (set by a flag of mcrun serve, such as --max-silent-retries).
            --json: `settings` holds the effective values (null: no limit, or off),
            `sources` where each comes from.
            Keys: \(HostConfig.Key.allCases.map { "\n  \($0.rawValue): \($0.help)" }.joined())

            EXAMPLES:
              mcrun config
              mcrun config capacity 8
              mcrun config retry-delay 5s
              mcrun config busy-pattern none
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The setting: \(HostConfig.Key.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "key"))
    var key: String?

    @Argument(help: "The new value; none clears it.")
    var value: String?

    func execute() throws(MCRunError) -> Reply {
        var parsed: HostConfig.Key?
        if let key {
            guard let k = HostConfig.Key(rawValue: key) else {
                throw .badInput(
                    "bad_key", "unknown setting \(key.debugDescription); use one of: \(HostConfig.Key.allCases.map(\.rawValue).joined(separator: ", "))")
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
        let values = try context.ledger.settingSources(keys)
        var settings: [String: JSONValue] = [:]
        var sources: [String: JSONValue] = [:]
        var rows: [[String]] = []
        for (key, stored, source) in values {
            let effective = stored ?? key.defaultValue
            settings[key.rawValue] = JSONValue(effective)
            sources[key.rawValue] = .string(source.rawValue)
            rows.append([key.rawValue, effective ?? "none", source.rawValue])
        }
        return Reply(fields: ["settings": .object(settings), "sources": .object(sources)], human: RuntimeView.table(["KEY", "VALUE", "SOURCE"], rows))
    }
}
