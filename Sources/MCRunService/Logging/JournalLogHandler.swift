import CSystemd
public import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A swift-log handler that writes native journal entries (sd_journal_sendv(3)), so every
/// metadata key becomes a field one can filter on: `journalctl -t mcrun TICKET=ABC-1`.
///
/// Fields: `MESSAGE`, `PRIORITY` (syslog level), `SYSLOG_IDENTIFIER`, `LOGGER` (the logger's
/// label), `CODE_FILE`, `CODE_LINE`, `CODE_FUNC`, then one field per metadata key, named by
/// ``fieldName(forMetadataKey:)``; nested dictionaries are flattened (`runtime: [id: …]`
/// becomes `RUNTIME_ID=`). When journald cannot be reached the record goes to stderr instead,
/// so nothing is lost and nothing is written twice.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    public let label: String
    public let identifier: String

    public init(
        label: String,
        identifier: String = "mcrun",
        logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.label = label
        self.identifier = identifier
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let record = LogRecord(event: event, handlerMetadata: metadata, provider: metadataProvider)
        if Self.send(Self.fields(for: record, label: label, identifier: identifier)) < 0 {
            StderrLogHandler.emit(record)
        }
    }

    /// The entry for one record, in the order it is sent.
    static func fields(for record: LogRecord, label: String, identifier: String) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = [
            ("MESSAGE", record.message),
            ("PRIORITY", String(syslogPriority(for: record.level))),
            ("SYSLOG_IDENTIFIER", identifier),
            ("LOGGER", label),
            ("CODE_FILE", record.file),
            ("CODE_LINE", String(record.line)),
            ("CODE_FUNC", record.function),
        ]
        for (path, value) in record.fields {
            fields.append((fieldName(forMetadataKey: path.joined(separator: "_")), value))
        }
        return fields
    }

    /// syslog(3) priorities, which journald stores in `PRIORITY=`. swift-log has two levels
    /// below `info`; both are debug to syslog.
    static func syslogPriority(for level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// Fields the handler writes itself or that journal readers interpret; a metadata key
    /// landing on one of them is prefixed so it can neither spoof nor be lost.
    static let reservedFieldNames: Set<String> = [
        "MESSAGE", "MESSAGE_ID", "PRIORITY", "SYSLOG_IDENTIFIER", "SYSLOG_FACILITY", "SYSLOG_PID",
        "SYSLOG_TIMESTAMP", "LOGGER", "CODE_FILE", "CODE_LINE", "CODE_FUNC",
    ]

    /// A journal field name for a metadata key. journald drops a whole entry with one invalid
    /// field name, so every key maps to something valid: ASCII letters uppercased, anything
    /// outside `[A-Z0-9_]` replaced by `_`, leading underscores removed (they mark fields only
    /// journald may set), a `META_` prefix when the result starts with a digit or is reserved,
    /// `META` for a key with nothing usable, and at most 64 characters.
    static func fieldName(forMetadataKey key: String) -> String {
        var name = String.UnicodeScalarView()
        for scalar in key.unicodeScalars {
            switch scalar {
            case "a"..."z":
                name.append(Unicode.Scalar(UInt8(scalar.value) - 0x20))
            case "A"..."Z", "0"..."9", "_":
                name.append(scalar)
            default:
                name.append("_")
            }
        }
        var field = String(String(name).drop { $0 == "_" })
        if field.isEmpty {
            return "META"
        }
        if field.first!.isNumber || reservedFieldNames.contains(field) {
            field = "META_" + field
        }
        return String(field.prefix(64))
    }

    /// One datagram to journald; negative errno on failure.
    private static func send(_ fields: [(name: String, value: String)]) -> Int32 {
        var bytes: [UInt8] = []
        var ranges: [Range<Int>] = []
        for (name, value) in fields {
            let start = bytes.count
            bytes.append(contentsOf: name.utf8)
            bytes.append(UInt8(ascii: "="))
            bytes.append(contentsOf: value.utf8)
            ranges.append(start..<bytes.count)
        }
        return bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return -EINVAL }
            let vectors = ranges.map { iovec(iov_base: base + $0.lowerBound, iov_len: $0.count) }
            return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
    }
}
