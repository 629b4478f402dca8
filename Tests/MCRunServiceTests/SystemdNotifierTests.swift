import Logging
import MCRunTestSupport
import Synchronization
import Testing

@testable import MCRunService

#if canImport(Glibc)
    import Glibc
#endif

/// libsystemd reads `$NOTIFY_SOCKET` and `$WATCHDOG_*` from the process environment, so these
/// tests set it for the duration of each test and run one at a time.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct SystemdNotifierTests {
    private static let clean: [String: String?] = ["NOTIFY_SOCKET": nil, "WATCHDOG_USEC": nil, "WATCHDOG_PID": nil]

    @Test func sendsExactlyTheDocumentedAssignments() async throws {
        let socket = try FakeNotifySocket()
        defer { socket.close() }
        try await withEnvironment(Self.clean.merging(["NOTIFY_SOCKET": socket.path]) { $1 }) {
            let notifier = SystemdNotifier()
            #expect(notifier.isUnderSystemd)
            notifier.ready()
            notifier.status("live 3, busy 1\nescalated 0")
            notifier.watchdog()
            notifier.stopping()
            notifier.ready(status: "reconciled 3")
            notifier.stopping(status: "stopping: SIGTERM")
            notifier.extendTimeout(by: .milliseconds(1_500))
            try await socket.waitForMessage { $0.hasPrefix("EXTEND_TIMEOUT_USEC=") }
        }
        #expect(
            socket.messages == [
                "READY=1",
                "STATUS=live 3, busy 1 escalated 0",
                "WATCHDOG=1",
                "STOPPING=1",
                "READY=1\nSTATUS=reconciled 3",
                "STOPPING=1\nSTATUS=stopping: SIGTERM",
                "EXTEND_TIMEOUT_USEC=1500000",
            ])
    }

    @Test func reloadingCarriesTheMonotonicClock() async throws {
        let socket = try FakeNotifySocket()
        defer { socket.close() }
        var before = timespec()
        clock_gettime(CLOCK_MONOTONIC, &before)
        await withEnvironment(Self.clean.merging(["NOTIFY_SOCKET": socket.path]) { $1 }) {
            SystemdNotifier().reloading()
        }
        let message = try #require(socket.messages.first)
        let lines = message.split(separator: "\n")
        #expect(lines.first == "RELOADING=1")
        let usec = try #require(lines.last.flatMap { UInt64($0.dropFirst("MONOTONIC_USEC=".count)) })
        #expect(lines.count == 2 && lines[1].hasPrefix("MONOTONIC_USEC="))
        #expect(usec >= UInt64(before.tv_sec) * 1_000_000)
    }

    @Test func withoutANotifySocketNothingIsSent() async throws {
        let socket = try FakeNotifySocket()
        defer { socket.close() }
        let records = await withEnvironment(Self.clean) {
            let (logger, records) = RecordingLogHandler.logger()
            let notifier = SystemdNotifier(logger: logger)
            #expect(!notifier.isUnderSystemd)
            #expect(notifier.watchdogInterval == nil)
            notifier.ready()
            notifier.watchdog()
            return records
        }
        #expect(socket.messages.isEmpty)
        #expect(records.entries.isEmpty)
    }

    @Test func watchdogIntervalComesFromSystemd() async throws {
        let mine = ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(getpid())"]
        await withEnvironment(Self.clean.merging(mine) { $1 }) {
            let notifier = SystemdNotifier()
            #expect(notifier.watchdogInterval == .seconds(30))
            #expect(notifier.watchdogPingInterval == .seconds(15))
            // Left set for whatever the service runs next.
            #expect(getenv("WATCHDOG_USEC") != nil)
        }
        // WATCHDOG_PID names another process: the request is not for us.
        let theirs = ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"]
        await withEnvironment(Self.clean.merging(theirs) { $1 }) {
            #expect(SystemdNotifier().watchdogInterval == nil)
        }
    }

    @Test func aFailedSendIsLoggedOnceAndNotFatal() async throws {
        let socket = try FakeNotifySocket()
        let missing = socket.path
        socket.close()
        let records = await withEnvironment(Self.clean.merging(["NOTIFY_SOCKET": missing]) { $1 }) {
            let (logger, records) = RecordingLogHandler.logger()
            let notifier = SystemdNotifier(logger: logger)
            notifier.ready()
            notifier.watchdog()
            notifier.status("still here")
            return records
        }
        let entries = records.entries
        #expect(entries.count == 1)
        #expect(entries.first?.level == .warning)
        #expect(entries.first?.metadataStrings["notification"] == "READY=1")
    }
}

/// Collects what a `Logger` logs, for assertions.
struct RecordingLogHandler: LogHandler {
    final class Records: Sendable {
        private let storage = Mutex<[LogEvent]>([])
        var entries: [LogEvent] { storage.withLock { $0 } }
        func append(_ event: LogEvent) { storage.withLock { $0.append(event) } }
    }

    let records: Records
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    static func logger() -> (Logger, Records) {
        let records = Records()
        return (Logger(label: "test") { _ in RecordingLogHandler(records: records) }, records)
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        records.append(event)
    }
}

extension LogEvent {
    var metadataStrings: [String: String] {
        (metadata ?? [:]).mapValues { "\($0)" }
    }
}
