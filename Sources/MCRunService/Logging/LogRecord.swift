import Logging

/// One log event as both of the service's handlers write it: the handler's own metadata, the
/// metadata provider's and the event's merged (the event wins), nested dictionaries flattened
/// into one level so that every value is a field of its own, sorted by key so output is stable.
struct LogRecord {
    var level: Logger.Level
    var message: String
    /// Key paths: `["runtime", "id"]` for `metadata["runtime"] = ["id": ...]`.
    var fields: [(path: [String], value: String)]
    var file: String
    var function: String
    var line: UInt

    init(event: LogEvent, handlerMetadata: Logger.Metadata, provider: Logger.MetadataProvider?) {
        var merged = handlerMetadata
        if let provided = provider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let metadata = event.metadata {
            merged.merge(metadata) { _, new in new }
        }
        if let error = event.error, merged["error"] == nil {
            merged["error"] = "\(error)"
        }
        self.level = event.level
        self.message = event.message.description
        self.fields = Self.flatten(merged, prefix: []).sorted { $0.path.lexicographicallyPrecedes($1.path) }
        self.file = event.file
        self.function = event.function
        self.line = event.line
    }

    private static func flatten(_ metadata: Logger.Metadata, prefix: [String]) -> [(path: [String], value: String)] {
        metadata.flatMap { key, value -> [(path: [String], value: String)] in
            switch value {
            case .dictionary(let nested) where !nested.isEmpty:
                return flatten(nested, prefix: prefix + [key])
            case .string(let text):
                return [(prefix + [key], text)]
            default:
                return [(prefix + [key], value.description)]
            }
        }
    }
}
