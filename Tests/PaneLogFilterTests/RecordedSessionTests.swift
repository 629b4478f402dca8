import Foundation
import PaneLogFilter
import Testing

/// The acceptance fixture: a recorded agent session (braille spinner, progress
/// bars, colours, a cursor-up status block, a shimmering "Working…", a pager
/// in the alternate screen, real output in between) and the transcript a
/// reader must get from it. Regenerate both with Fixtures/make-fixture.py.
@Suite("Recorded agent session")
struct RecordedSessionTests {
    static func fixture(_ name: String) throws -> [UInt8] {
        let url = try #require(
            Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"),
            "fixture \(name) is missing from the test bundle")
        return Array(try Data(contentsOf: url))
    }

    let raw: [UInt8]
    let expected: [UInt8]

    init() throws {
        raw = try Self.fixture("agent-session.raw")
        expected = try Self.fixture("agent-session.log")
    }

    @Test("fed in chunks of", arguments: [1, 7, 4096, Int.max])
    func chunked(size: Int) {
        let output = transcript(of: raw, chunkSize: min(size, raw.count))
        #expect(
            String(decoding: output, as: UTF8.self) == String(decoding: expected, as: UTF8.self),
            "the transcript differs from agent-session.log")
    }

    @Test("fed in random chunks", arguments: [1, 2, 3, 42] as [UInt64])
    func randomChunks(seed: UInt64) {
        var generator = SeededGenerator(state: seed)
        var filter = PaneLogFilter()
        var start = 0
        while start < raw.count {
            let end = min(raw.count, start + Int.random(in: 1...700, using: &generator))
            raw[start..<end].withUnsafeBytes { filter.feed($0) }
            start = end
        }
        filter.finish()
        #expect(filter.takeOutput() == expected)
    }

    @Test("still says the same after idle flushes at every chunk")
    func flushedAtEveryChunk() {
        // Flushing early may split a line that is still being written, but
        // it must never lose or reorder what the log says.
        var filter = PaneLogFilter()
        var written: [UInt8] = []
        var start = 0
        while start < raw.count {
            let end = min(raw.count, start + 4096)
            raw[start..<end].withUnsafeBytes { filter.feed($0) }
            filter.flush()
            written += filter.takeOutput()
            start = end
        }
        filter.finish()
        written += filter.takeOutput()
        let lines = String(decoding: written, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        var remaining = lines[...]
        for line in String(decoding: expected, as: UTF8.self).split(separator: "\n") where !line.isEmpty {
            guard let found = remaining.firstIndex(of: line) else {
                Issue.record("\"\(line)\" is missing or out of order")
                return
            }
            remaining = remaining[(found + 1)...]
        }
    }

    @Test("exercises what it claims")
    func fixtureShape() {
        func occurrences(of needle: String) -> Int {
            let pattern = Array(needle.utf8)
            var count = 0
            var index = 0
            while index + pattern.count <= raw.count {
                if raw[index..<(index + pattern.count)].elementsEqual(pattern) {
                    count += 1
                    index += pattern.count
                } else {
                    index += 1
                }
            }
            return count
        }
        let braille = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏".map { occurrences(of: "\r\u{1B}[36m\($0)") }.reduce(0, +)
        #expect(braille == 500, "braille spinner frames redrawn with \\r")
        #expect(occurrences(of: "\rDownloading fixtures ") == 101, "progress bar frames 0...100%")
        #expect(occurrences(of: "\u{1B}[3A") == 50, "status block redraws with ESC[3A")
        #expect(occurrences(of: "\u{1B}[32m") >= 4, "SGR colours")
        #expect(occurrences(of: "FAIL") == 5, "real lines printed while the block is shown")
        #expect(occurrences(of: "\u{1B}[?1049h") == 1, "a full-screen program")
    }
}
