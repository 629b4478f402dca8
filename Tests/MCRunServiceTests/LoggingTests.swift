import Logging
import Testing

@testable import MCRunService

@Suite
struct JournalFieldTests {
    @Test(arguments: [
        ("ticket", "TICKET"),
        ("runtime_id", "RUNTIME_ID"),
        ("event", "EVENT"),
        ("runtime.id", "RUNTIME_ID"),
        ("ticket-id", "TICKET_ID"),
        ("Exit Status", "EXIT_STATUS"),
        ("_private", "PRIVATE"),
        ("__SYSTEMD_UNIT", "SYSTEMD_UNIT"),
        ("2fa", "META_2FA"),
        ("_9lives", "META_9LIVES"),
        ("message", "META_MESSAGE"),
        ("priority", "META_PRIORITY"),
        ("syslog_identifier", "META_SYSLOG_IDENTIFIER"),
        ("code_line", "META_CODE_LINE"),
        ("", "META"),
        ("___", "META"),
        ("ünï", "N_"),
    ])
    func metadataKeysBecomeValidFieldNames(key: String, field: String) {
        #expect(JournalLogHandler.fieldName(forMetadataKey: key) == field)
    }

    @Test func fieldNamesAreAlwaysAcceptedByJournald() {
        let keys = [
            "a", "A b", "-", "x=y", "0", "élan", "tab\there", String(repeating: "k", count: 100), "_", "MESSAGE_ID",
        ]
        for key in keys {
            let field = JournalLogHandler.fieldName(forMetadataKey: key)
            #expect(field.count <= 64, "\(key) -> \(field)")
            #expect(field.first.map { ("A"..."Z").contains($0) } == true, "\(key) -> \(field)")
            #expect(
                field.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" },
                "\(key) -> \(field)")
        }
    }

    @Test func prioritiesFollowSyslog() {
        let expected: [Logger.Level: Int] = [
            .trace: 7, .debug: 7, .info: 6, .notice: 5, .warning: 4, .error: 3, .critical: 2,
        ]
        for level in Logger.Level.allCases {
            #expect(JournalLogHandler.syslogPriority(for: level) == expected[level])
        }
    }

    @Test func anEntryCarriesMessagePriorityIdentifierAndEveryMetadataKey() {
        let record = LogRecord(
            event: LogEvent(
                level: .warning,
                message: "runtime died",
                metadata: ["ticket": "ABC-1", "runtime": ["id": "r-7", "episode": "2"], "event": "death"],
                source: "MCRunService", file: "MCRunService/Reaper.swift", function: "reap()", line: 42),
            handlerMetadata: ["host": "h1", "ticket": "overridden"],
            provider: nil)
        let fields = JournalLogHandler.fields(for: record, label: "mcrun.reaper", identifier: "mcrun")
        #expect(
            fields.map(\.name) == [
                "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "LOGGER", "CODE_FILE", "CODE_LINE", "CODE_FUNC",
                "EVENT", "HOST", "RUNTIME_EPISODE", "RUNTIME_ID", "TICKET",
            ])
        #expect(
            fields.map(\.value) == [
                "runtime died", "4", "mcrun", "mcrun.reaper", "MCRunService/Reaper.swift", "42", "reap()",
                "death", "h1", "2", "r-7", "ABC-1",
            ])
    }

    @Test func anErrorIsAFieldUnlessMetadataNamesOne() {
        struct Broken: Error, CustomStringConvertible { var description: String { "disk full" } }
        let withError = LogEvent(
            level: .error, message: "ledger write failed", error: Broken(), metadata: nil,
            source: nil, file: "f", function: "g", line: 1)
        let record = LogRecord(event: withError, handlerMetadata: [:], provider: nil)
        #expect(record.fields.map(\.path) == [["error"]])
        #expect(record.fields.map(\.value) == ["disk full"])

        var explicit = withError
        explicit.metadata = ["error": "ENOSPC"]
        #expect(LogRecord(event: explicit, handlerMetadata: [:], provider: nil).fields.map(\.value) == ["ENOSPC"])
    }

    @Test func providerMetadataSitsBetweenHandlerAndEvent() {
        let provider = Logger.MetadataProvider { ["episode": "3", "ticket": "from-provider"] }
        let record = LogRecord(
            event: LogEvent(
                level: .info, message: "m", metadata: ["ticket": "from-event"], source: nil, file: "f", function: "g",
                line: 1),
            handlerMetadata: ["episode": "from-handler", "host": "h"],
            provider: provider)
        #expect(record.fields.map(\.path) == [["episode"], ["host"], ["ticket"]])
        #expect(record.fields.map(\.value) == ["3", "h", "from-event"])
    }
}

@Suite
struct StderrLineTests {
    @Test func oneLinePerRecordWithTimeLevelMessageAndSortedMetadata() {
        let record = LogRecord(
            event: LogEvent(
                level: .notice,
                message: "relaunching\nafter first death",
                metadata: ["ticket": "ABC-1", "reason": "agent exited", "runtime": ["id": "r-7"], "empty": ""],
                source: nil, file: "f", function: "g", line: 1),
            handlerMetadata: [:], provider: nil)
        #expect(
            StderrLogHandler.line(for: record, time: "2026-01-31T12:00:00.123Z")
                == #"2026-01-31T12:00:00.123Z notice relaunching\nafter first death empty="" reason="agent exited" runtime.id=r-7 ticket=ABC-1"#
        )
    }

    @Test func valuesThatWouldBreakTheLineAreQuoted() {
        #expect(StderrLogHandler.quotedIfNeeded("plain") == "plain")
        #expect(StderrLogHandler.quotedIfNeeded("a=b") == #""a=b""#)
        #expect(StderrLogHandler.quotedIfNeeded(#"say "hi""#) == #""say \"hi\"""#)
        #expect(StderrLogHandler.quotedIfNeeded("two\nlines") == #""two\nlines""#)
        #expect(StderrLogHandler.quotedIfNeeded(#"C:\dir"#) == #""C:\\dir""#)
    }

    @Test func timestampsAreUTCWithMilliseconds() {
        let stamp = StderrLogHandler.timestamp()
        #expect(stamp.count == "2026-01-31T12:00:00.123Z".count)
        #expect(stamp.hasSuffix("Z"))
        #expect(stamp.dropFirst(10).first == "T")
    }
}

@Suite
struct LogDestinationTests {
    private let stderr = (device: UInt64(64768), inode: UInt64(1234))

    @Test func journalWhenJournalStreamIsThisStderr() {
        #expect(
            MCRunLogging.destination(environment: ["JOURNAL_STREAM": "64768:1234"], standardError: stderr) == .journal)
    }

    @Test func stderrWhenJournalStreamWasInheritedButStderrIsElsewhere() {
        // An agent in mcrun's tmux server inherits both variables and has a terminal.
        let inherited = ["JOURNAL_STREAM": "64768:99", "INVOCATION_ID": "0123456789abcdef0123456789abcdef"]
        #expect(MCRunLogging.destination(environment: inherited, standardError: stderr) == .standardError)
        #expect(
            MCRunLogging.destination(environment: ["JOURNAL_STREAM": "garbage"], standardError: stderr)
                == .standardError)
    }

    @Test func journalForAUnitWhoseOutputIsNotTheJournal() {
        let unit = ["INVOCATION_ID": "0123456789abcdef0123456789abcdef"]
        #expect(MCRunLogging.destination(environment: unit, standardError: stderr) == .journal)
    }

    @Test func stderrInADevelopersShell() {
        #expect(MCRunLogging.destination(environment: [:], standardError: stderr) == .standardError)
        #expect(MCRunLogging.destination(environment: ["INVOCATION_ID": ""], standardError: stderr) == .standardError)
    }

    @Test func handlersMatchTheDestination() {
        #expect(MCRunLogging.makeHandler(label: "l", level: .debug, destination: .journal) is JournalLogHandler)
        #expect(MCRunLogging.makeHandler(label: "l", level: .debug, destination: .standardError) is StderrLogHandler)
        #expect(MCRunLogging.makeHandler(label: "l", level: .debug, destination: .journal).logLevel == .debug)
    }
}
