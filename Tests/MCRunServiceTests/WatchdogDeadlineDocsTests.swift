import Foundation
import Testing

/// The watchdog deadline the unit and the docs state is the one serve gives: 1.5 × WatchdogSec
/// (pings stop at most WatchdogSec/2 after the last full pass; systemd waits WatchdogSec after
/// the last ping). ServeUnderSystemdTests measures it under a real systemd.
@Suite struct WatchdogDeadlineDocsTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theUnitAndTheDocsStateTheRealDeadline() throws {
        let unit = try String(contentsOf: Self.root.appendingPathComponent("units/mcrun.service"), encoding: .utf8)
        let line = try #require(unit.split(separator: "\n").first { $0.hasPrefix("WatchdogSec=") })
        let seconds = try #require(Int(line.dropFirst("WatchdogSec=".count).dropLast()), "\(line)")
        let deadline = "\(seconds * 3 / 2) s"
        #expect(unit.contains("within 1.5 x WatchdogSec: \(deadline)"), "units/mcrun.service must state the real deadline, \(deadline)")
        let docs = try String(contentsOf: Self.root.appendingPathComponent("docs/systemd.md"), encoding: .utf8)
        #expect(docs.contains("`WatchdogSec=\(seconds)s`"), "docs/systemd.md names another WatchdogSec")
        #expect(docs.contains("within \(deadline)"), "docs/systemd.md must state the real deadline, \(deadline)")
    }
}
