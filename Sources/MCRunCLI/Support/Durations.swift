import ArgumentParser
import MCRunCore

/// A duration flag's value in whole milliseconds, always within the flag's range.
struct DurationArgument: Sendable, CustomStringConvertible {
    var milliseconds: Int

    init(milliseconds: Int) { self.milliseconds = milliseconds }

    var description: String { DurationText.describe(milliseconds: milliseconds) }
}

/// The parsers of every numeric flag: each value is checked against the flag's range while
/// the command line is parsed, so a value out of range exits 2 with one line naming the flag
/// and the range before anything is opened, signalled or written. Every numeric option is
/// declared with `parsing: .unconditional`, so `--grace -5s` reaches the check instead of
/// being taken for an option.
enum Bounded {
    struct OutOfRange: Error, CustomStringConvertible {
        var description: String
    }

    static func duration(_ range: ClosedRange<Int>, bare: DurationText.BareUnit = .seconds) -> @Sendable (String) throws -> DurationArgument {
        { text in
            guard let ms = DurationText.milliseconds(text, bare: bare, in: range) else {
                throw OutOfRange(description: "use \(DurationText.expectation(range, bare: bare))")
            }
            return DurationArgument(milliseconds: ms)
        }
    }

    static func integer<T: FixedWidthInteger & Sendable>(_ range: ClosedRange<T>) -> @Sendable (String) throws -> T {
        { text in
            guard text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = T(text), range.contains(value) else {
                throw OutOfRange(description: "use a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }
    }

    static func size() -> @Sendable (String) throws -> Int64 {
        { text in
            guard let bytes = ResourceLimits.parseSize(text) else {
                throw OutOfRange(description: "use a size from 4M to 1T: bytes, or a whole number with K, M, G or T (e.g. 512M)")
            }
            return bytes
        }
    }

    /// Ranges shared by several flags.
    static let grace = 0...DurationText.day
    static let launchTimeout = 1...DurationText.hour
    static let harvestTimeout = HarvestTimeout.range
    static let lines = 0...1_000_000
    static let episode = 1...1_000_000_000
    static let eventID: ClosedRange<Int64> = 0...Int64.max
}
