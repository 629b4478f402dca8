import Foundation

extension Event {
    /// The event as every consumer sees it: `mcrun events`, event hooks' stdin, the journal.
    public var json: JSONValue {
        [
            "id": JSONValue(id), "at": .double(at), "kind": .string(kind), "ticket": JSONValue(ticket),
            "runtime_id": JSONValue(runtimeID), "episode": JSONValue(episode), "from": JSONValue(fromState),
            "to": JSONValue(toState), "actor": .string(actor), "reason": JSONValue(reason), "data": data,
        ]
    }
}

extension JSONValue {
    /// Parses JSON text; nil when it is not valid JSON.
    public static func parse(_ text: String) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }
}
