import Foundation
import Logging
import MCRunTestSupport
import Testing

@testable import MCRunService

/// JournalLogHandler against a real journald: the entry arrives whole, with every field.
@Suite(
    .serialized,
    .timeLimit(.minutes(5)),
    .needsSystemdNamespace)
struct JournalDeliveryTests {
    @Test func journaldStoresTheMessagePriorityAndOneFieldPerMetadataKey() async throws {
        try await SystemdNamespace.withBooted { ns in
            try ns.withMountNamespace {
                let logger = Logger(label: "mcrun.journal-test") { JournalLogHandler(label: $0, logLevel: .debug) }
                logger.warning(
                    "runtime died\nlast words: done?",
                    metadata: [
                        "ticket": "ABC-1", "runtime_id": "r-7", "event": "death",
                        "runtime": ["episode": "2"], "exit status": "signal 9",
                    ])
                logger.debug("second entry")
            }
            try await ns.run(["journalctl", "--sync"])
            let output = try await ns.run(["journalctl", "--no-pager", "--output", "json", "LOGGER=mcrun.journal-test"])
            let entries = try output.standardOutput.split(separator: "\n").map { line in
                try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            }
            try #require(entries.count == 2, "\(output)")
            let entry = entries[0]
            #expect(entry["MESSAGE"] as? String == "runtime died\nlast words: done?")
            #expect(entry["PRIORITY"] as? String == "4")
            #expect(entry["SYSLOG_IDENTIFIER"] as? String == "mcrun")
            #expect(entry["TICKET"] as? String == "ABC-1")
            #expect(entry["RUNTIME_ID"] as? String == "r-7")
            #expect(entry["EVENT"] as? String == "death")
            #expect(entry["RUNTIME_EPISODE"] as? String == "2")
            #expect(entry["EXIT_STATUS"] as? String == "signal 9")
            #expect((entry["CODE_FILE"] as? String)?.hasSuffix("JournalDeliveryTests.swift") == true)
            #expect(entries[1]["MESSAGE"] as? String == "second entry")
            #expect(entries[1]["PRIORITY"] as? String == "7")
        }
    }
}
