import Foundation
import MCRunCore
import Testing

@Suite struct JSONValueTests {
    @Test func textRoundTripsThroughAStandardParser() throws {
        let value: JSONValue = [
            "quote\"back\\slash": "line\nfeed\ttab\r\u{1}\u{7F} é 漢字 🚀 $(x) `y`",
            "n": .int(-42), "d": .double(1795316681.4231443), "whole": .double(3), "t": true, "f": false, "z": .null,
            "list": ["a", .int(1), [:], []],
        ]
        let text = value.jsonText
        #expect(!text.contains("\n"), "one line per value")
        let parsed = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(parsed["quote\"back\\slash"] == value["quote\"back\\slash"])
        #expect(parsed["n"] == .int(-42))
        #expect(parsed["d"]?.doubleValue.map { abs($0 - 1795316681.4231443) < 1e-6 } == true)
        #expect(parsed["t"] == true)
        #expect(parsed["z"] == .null)
        #expect(parsed["list"] == ["a", .int(1), [:], []])
        // Sorted keys: the same value always gives the same bytes.
        #expect(text.hasPrefix(#"{"d":"#))
        #expect(JSONValue.parse(text)?.jsonText == text)
    }
}

extension JSONValue {
    var doubleValue: Double? {
        switch self {
        case .double(let d): d
        case .int(let i): Double(i)
        default: nil
        }
    }
}
