/// The one way mcrun reads a duration, for every flag and every setting: `1h30m`, `250ms`,
/// `10s`, `2m`, `1.5s`; a bare number counts in the unit the flag has always documented.
/// The result is whole milliseconds in integer arithmetic, checked against a range, so no
/// value can overflow what it is later multiplied into (nanoseconds, deadlines).
public enum DurationText {
    public enum BareUnit: Sendable {
        case milliseconds, seconds
    }

    public static let second = 1_000
    public static let minute = 60_000
    public static let hour = 3_600_000
    public static let day = 86_400_000

    /// Milliseconds, or nil when `text` is not a duration or lies outside `range`.
    public static func milliseconds(_ text: String, bare: BareUnit = .seconds, in range: ClosedRange<Int>) -> Int? {
        guard let ms = parse(Array(text.utf8), bare: bare), range.contains(ms) else { return nil }
        return ms
    }

    /// `1h30m`, `250ms`, `10s`: the shortest exact spelling, as help and errors print it.
    public static func describe(milliseconds ms: Int) -> String {
        if ms == 0 { return "0s" }
        var rest = ms
        var out = ""
        for (unit, scale) in [("h", hour), ("m", minute), ("s", second)] where rest >= scale && (rest % scale == 0 || unit != "s") {
            out += "\(rest / scale)\(unit)"
            rest %= scale
        }
        if rest > 0 { out += "\(rest)ms" }
        return out
    }

    /// The sentence every rejection ends with, e.g. "a duration from 0s to 24h, such as
    /// 1h30m, 250ms or 10s".
    public static func expectation(_ range: ClosedRange<Int>, bare: BareUnit = .seconds) -> String {
        let unit = bare == .seconds ? "seconds" : "milliseconds"
        return
            "a duration from \(describe(milliseconds: range.lowerBound)) to \(describe(milliseconds: range.upperBound)), such as 1h30m, 250ms or 10s (a bare number is \(unit))"
    }

    private static let units: [(suffix: [UInt8], scale: Int)] = [
        (Array("h".utf8), hour), (Array("ms".utf8), 1), (Array("m".utf8), minute), (Array("s".utf8), second),
    ]

    /// Components `NUMBER UNIT`, each unit at most once and largest first; NUMBER is digits
    /// with an optional fraction. No sign, no exponent, no spaces.
    static func parse(_ bytes: [UInt8], bare: BareUnit) -> Int? {
        guard !bytes.isEmpty else { return nil }
        var i = 0
        var total = 0
        var lastScale = Int.max
        while i < bytes.count {
            var whole = 0
            var digits = 0
            while i < bytes.count, let d = digit(bytes[i]) {
                let (times, o1) = whole.multipliedReportingOverflow(by: 10)
                let (plus, o2) = times.addingReportingOverflow(d)
                if o1 || o2 { return nil }
                whole = plus
                digits += 1
                i += 1
            }
            var fraction = 0
            var fractionDigits = 0
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                while i < bytes.count, let d = digit(bytes[i]) {
                    guard fractionDigits < 9 else { return nil }
                    fraction = fraction * 10 + d
                    fractionDigits += 1
                    i += 1
                }
                guard fractionDigits > 0 else { return nil }
            }
            guard digits + fractionDigits > 0 else { return nil }
            let scale: Int
            if i == bytes.count && total == 0 && lastScale == Int.max {
                scale = bare == .seconds ? second : 1
            } else {
                guard let unit = units.first(where: { bytes[i...].starts(with: $0.suffix) }), unit.scale < lastScale else { return nil }
                scale = unit.scale
                i += unit.suffix.count
            }
            lastScale = scale
            var power = 1
            for _ in 0..<fractionDigits { power *= 10 }
            let (wholeMs, o1) = whole.multipliedReportingOverflow(by: scale)
            let (sum, o2) = total.addingReportingOverflow(wholeMs)
            // At most 9 fraction digits times a scale of at most an hour: no overflow.
            let (next, o3) = sum.addingReportingOverflow(fraction * scale / power)
            if o1 || o2 || o3 { return nil }
            total = next
        }
        return total
    }

    private static func digit(_ b: UInt8) -> Int? {
        b >= 0x30 && b <= 0x39 ? Int(b - 0x30) : nil
    }
}
