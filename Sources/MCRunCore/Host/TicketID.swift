/// A validated ticket id. tmux treats `:` and `.` as target separators and silently
/// rewrites them in session names, so `A:1` and `A_1` would share a session; a leading
/// `-` reads as an option. Only letters, digits, `-` and `_` are accepted, 1–64 of them,
/// starting with a letter or digit.
public struct TicketID: Hashable, Sendable, CustomStringConvertible, Codable {
    public let rawValue: String

    public static let maxLength = 64

    public init(validating raw: String) throws(MCRunError) {
        guard !raw.isEmpty else {
            throw .badInput("bad_ticket", "ticket id is empty; use 1-64 letters, digits, '-' or '_'")
        }
        guard raw.utf8.count <= Self.maxLength else {
            throw .badInput("bad_ticket", "ticket id is longer than \(Self.maxLength) characters; use a shorter id")
        }
        for (index, byte) in raw.utf8.enumerated() {
            let isAlnum = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            let isPunct = byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            guard isAlnum || (isPunct && index > 0) else {
                throw .badInput(
                    "bad_ticket",
                    "ticket id \(Self.printable(raw)) is not allowed; use 1-64 letters, digits, '-' or '_', starting with a letter or digit")
            }
        }
        rawValue = raw
    }

    /// For ids read back from the ledger, which only ever holds validated ids.
    init(trusted raw: String) { rawValue = raw }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// Quotes an untrusted id for an error message without letting control bytes through.
    static func printable(_ raw: String) -> String {
        var out = "'"
        for scalar in raw.unicodeScalars.prefix(80) {
            if scalar.value < 0x20 || scalar.value == 0x7F { out += "\\u{\(String(scalar.value, radix: 16))}" } else { out.unicodeScalars.append(scalar) }
        }
        return out + (raw.unicodeScalars.count > 80 ? "...'" : "'")
    }
}
