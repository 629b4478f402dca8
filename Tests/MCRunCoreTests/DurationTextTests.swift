import MCRunCore
import Testing

@Suite struct DurationTextTests {
    @Test(arguments: [
        ("1h30m", 5_400_000), ("250ms", 250), ("10s", 10_000), ("2m", 120_000), ("1.5s", 1_500), ("0", 0), ("0s", 0),
        ("1h2m3s4ms", 3_723_004), ("90", 90_000), (".5s", 500), ("24h", 86_400_000),
    ])
    func acceptsEverySpelling(_ text: String, _ ms: Int) {
        #expect(DurationText.milliseconds(text, in: 0...Int.max) == ms)
    }

    @Test func aBareNumberCountsInTheFlagsOwnUnit() {
        #expect(DurationText.milliseconds("2500", bare: .milliseconds, in: 0...Int.max) == 2_500)
        #expect(DurationText.milliseconds("2500", bare: .seconds, in: 0...Int.max) == 2_500_000)
        #expect(DurationText.milliseconds("3s", bare: .milliseconds, in: 0...Int.max) == 3_000)
    }

    /// Overflow, negatives, NaN, exponents and garbage are nil, never a trap.
    @Test(arguments: [
        "1e10s", "1e300s", "9223372036854775807s", "9223372036854775807h", "99999999999999999999", "-5s", "-0", "+5s", "nan",
        "inf", "", "s", "5x", "1h1h", "30m1h", "1.s", "1.0000000001s", " 5s", "5 s", "0x10", "１s",
    ])
    func rejects(_ text: String) {
        #expect(DurationText.milliseconds(text, in: 0...Int.max) == nil)
    }

    @Test func holdsToTheRange() {
        #expect(DurationText.milliseconds("24h", in: 0...DurationText.day) == DurationText.day)
        #expect(DurationText.milliseconds("24h1ms", in: 0...DurationText.day) == nil)
        #expect(DurationText.milliseconds("9223372036854775807", bare: .milliseconds, in: 1...DurationText.hour) == nil)
        #expect(DurationText.milliseconds("49ms", in: 50...DurationText.hour) == nil)
    }

    @Test func describesExactly() {
        #expect(DurationText.describe(milliseconds: 5_400_000) == "1h30m")
        #expect(DurationText.describe(milliseconds: 1_500) == "1500ms")
        #expect(DurationText.describe(milliseconds: 90_000) == "1m30s")
        #expect(DurationText.describe(milliseconds: 0) == "0s")
        #expect(DurationText.expectation(0...DurationText.day).hasPrefix("a duration from 0s to 24h"))
    }
}
