public import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A swift-log handler for a terminal or a log file: one line per record,
/// `time level message key=value...`, with the time in UTC and metadata sorted by key.
/// Nested metadata is flattened with dots (`runtime.id=…`). Values that would break the
/// line apart (spaces, quotes, `=`, control characters) are quoted, so a line stays parseable.
public struct StderrLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?

    public init(
        logLevel: Logger.Level = .info, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        Self.emit(LogRecord(event: event, handlerMetadata: metadata, provider: metadataProvider))
    }

    /// Writes the line with a single write(2) where possible, so concurrent records do not
    /// interleave within a line.
    static func emit(_ record: LogRecord) {
        var bytes = Array(line(for: record, time: timestamp()).utf8)
        bytes.append(UInt8(ascii: "\n"))
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }

    static func line(for record: LogRecord, time: String) -> String {
        var line = "\(time) \(record.level) \(escaped(record.message))"
        for (path, value) in record.fields {
            line += " \(path.joined(separator: "."))=\(quotedIfNeeded(value))"
        }
        return line
    }

    static func quotedIfNeeded(_ value: String) -> String {
        let plain =
            !value.isEmpty
            && value.unicodeScalars.allSatisfy {
                $0.value > 0x20 && $0.value != 0x7f && $0 != "\"" && $0 != "=" && $0 != "\\"
            }
        return plain ? value : "\"\(escaped(value, quote: true))\""
    }

    /// Control characters as escapes, so one record is always one line.
    static func escaped(_ text: String, quote: Bool = false) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\"" where quote: result += "\\\""
            case "\\" where quote: result += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                result += "\\u{\(String(scalar.value, radix: 16))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// `2026-01-31T12:00:00.123Z`
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &parts)
        let millis = Int(now.tv_nsec) / 1_000_000
        let fraction = String(millis)
        let date = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return "\(date).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)Z"
    }
}
