import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// Event hooks through `mcrun event-hooks deliver`, the dispatcher serve runs, as a real process.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct EventHookTests {
    struct Attempt: Equatable {
        var attempt: Int
        var outcome: String?
    }

    /// One `death` event for ticket H1, and the hooks folder.
    func prepare(_ s: Scratch, hook: String) throws -> (eventID: Int64, hooksDir: String) {
        let dir = s.path("hooks.d")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = try s.script("hooks.d/death", hook)
        let eventID = try s.stageEvent("death", ticket: "H1", reason: "agent_exited", data: ["exit_code": 1])
        return (eventID, dir)
    }

    /// A hook whose first attempt records its pid and hangs; later attempts succeed.
    func hangsOnItsFirstAttempt(_ s: Scratch) -> String {
        """
        #!/bin/sh
        n=$(cat '\(s.path("count"))' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '\(s.path("count"))'
        if [ $n -eq 1 ]; then
            echo $$ > '\(s.path("first"))'
            exec sleep 60
        fi
        cat >> '\(s.path("received"))'
        """
    }

    func deliveries(_ s: Scratch) throws -> [(state: String, attempts: Int)] {
        try s.context().ledger.hookDeliveryStates()
    }

    func attempts(_ s: Scratch) throws -> [Attempt] {
        try s.context().ledger.hookAttemptOutcomes().map { Attempt(attempt: $0.attempt, outcome: $0.outcome) }
    }

    func received(_ s: Scratch) -> [JSONValue] {
        let text = (try? String(contentsOfFile: s.path("received"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { JSONValue.parse(String($0)) }
    }

    @Test func aHookThatFailsTwiceThenSucceedsIsDeliveredOnceWithThreeRecordedAttempts() throws {
        let s = try Scratch(name: "hook3")
        defer { s.cleanup() }
        let (eventID, dir) = try prepare(
            s,
            hook: """
                #!/bin/sh
                n=$(cat '\(s.path("count"))' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '\(s.path("count"))'
                [ $n -ge 3 ] || { echo "not yet ($n)" >&2; exit 1; }
                cat >> '\(s.path("received"))'
                """)
        let run = try s.mcrunJSON(["event-hooks", "deliver", "--once", "--hooks-dir", dir, "--backoff", "20ms"])
        #expect(run.result.status == 0, "\(run.result.stderrText)")
        #expect(run.json["delivered"]?.intValue == 1)
        #expect(run.json["delivered"]?.intValue == 1)
        #expect(run.json["pending"]?.intValue == 0)
        let got = received(s)
        #expect(got.count == 1)
        #expect(got.first?["id"]?.intValue == eventID)
        #expect(got.first?["kind"]?.stringValue == "death")
        #expect(got.first?.at("data.exit_code")?.intValue == 1)
        #expect(try deliveries(s).map(\.state) == ["delivered"])
        #expect(try deliveries(s).map(\.attempts) == [3])
        #expect(try attempts(s) == [Attempt(attempt: 1, outcome: "exit"), Attempt(attempt: 2, outcome: "exit"), Attempt(attempt: 3, outcome: "ok")])

        // Delivered is final: another dispatcher run does not deliver it again.
        #expect(try s.mcrun(["event-hooks", "deliver", "--once", "--hooks-dir", dir]).status == 0)
        #expect(received(s).count == 1)
        #expect(try attempts(s).count == 3)
    }

    @Test func aHookThatNeverSucceedsIsRecordedFailedWithAnEvent() throws {
        let s = try Scratch(name: "hookf")
        defer { s.cleanup() }
        let (_, dir) = try prepare(s, hook: "#!/bin/sh\necho broken >&2\nexit 3\n")
        #expect(try s.mcrun(["event-hooks", "deliver", "--once", "--hooks-dir", dir, "--backoff", "10ms", "--max-attempts", "2"]).status == 0)
        #expect(try deliveries(s).map(\.state) == ["failed"])
        #expect(try attempts(s).map(\.outcome) == ["exit", "exit"])
        let failed = try s.context().ledger.events(after: 0, kinds: ["hook_failed"])
        #expect(failed.count == 1)
        #expect(failed.first?.data["hook"]?.stringValue == "death")
        #expect(failed.first?.data["attempts"]?.intValue == 2)
    }

    @Test func aHungHookIsKilledWithItsProcessGroupAtTheTimeoutAndRetried() throws {
        let s = try Scratch(name: "hookhang")
        defer { s.cleanup() }
        let (_, dir) = try prepare(
            s,
            hook: """
                #!/bin/sh
                n=$(cat '\(s.path("count"))' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '\(s.path("count"))'
                if [ $n -eq 1 ]; then
                    sleep 60 &
                    echo $! > '\(s.path("background"))'
                    exec sleep 60
                fi
                cat >> '\(s.path("received"))'
                """)
        let started = Instant.now
        let run = try s.mcrun(["event-hooks", "deliver", "--once", "--hooks-dir", dir, "--timeout", "500ms", "--backoff", "10ms"])
        #expect(run.status == 0)
        #expect(Instant.now - started < .seconds(20))
        #expect(received(s).count == 1)
        #expect(try attempts(s).map(\.outcome) == ["timeout", "ok"])
        #expect(try deliveries(s).map(\.state) == ["delivered"])
        let background = try #require(Int32(try String(contentsOfFile: s.path("background"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        try waitUntil("the hung hook's background child was killed with its group", timeout: 5) {
            ProcFS.stat(background).map { $0.hasExited } ?? true
        }
    }

    /// A first attempt that closes stdout and stderr, records its pid and hangs; later ones append stdin.
    func hangAfterClosingOutput(_ s: Scratch) -> String {
        """
        #!/bin/sh
        n=$(cat '\(s.path("count"))' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '\(s.path("count"))'
        if [ $n -eq 1 ]; then
            exec >/dev/null 2>&1
            echo $$ > '\(s.path("hung"))'
            exec sleep 600
        fi
        cat >> '\(s.path("received"))'
        """
    }

    func hungPID(_ s: Scratch) throws -> Int32 {
        try #require(Int32(try String(contentsOfFile: s.path("hung"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    @Test func aHookThatClosesItsOutputAndHangsIsKilledAtTheTimeoutAndTheNextEventIsStillDelivered() throws {
        let s = try Scratch(name: "hookeof")
        defer { s.cleanup() }
        let (first, dir) = try prepare(s, hook: hangAfterClosingOutput(s))
        let second = try s.stageEvent("death", ticket: "H2", reason: "agent_exited")
        s.environment["MCRUN_HOOK_TIMEOUT"] = "1000"
        let started = Instant.now
        let run = try s.mcrun(["event-hooks", "deliver", "--once", "--hooks-dir", dir, "--backoff", "10ms"], timeoutMilliseconds: 20_000)
        #expect(!run.timedOut, "the dispatcher hung on the hook")
        #expect(run.status == 0, "\(run.stderrText)")
        #expect(Instant.now - started < .seconds(15))
        #expect(Set(received(s).compactMap { $0["id"]?.intValue }) == [first, second])
        #expect(try attempts(s).compactMap(\.outcome).sorted() == ["ok", "ok", "timeout"])
        #expect(try deliveries(s).map(\.state) == ["delivered", "delivered"])
        let hung = try hungPID(s)
        try waitUntil("the hung hook was killed", timeout: 5) { ProcFS.stat(hung).map { $0.hasExited } ?? true }
    }

    @Test func sigtermEndsTheDispatcherWhileAHookThatClosedItsOutputHangs() throws {
        let s = try Scratch(name: "hookterm")
        defer { s.cleanup() }
        let (_, dir) = try prepare(s, hook: hangAfterClosingOutput(s))
        s.environment["MCRUN_HOOK_TIMEOUT"] = "1000"
        let dispatcher = try s.spawnMcrun(["event-hooks", "deliver", "--hooks-dir", dir])
        try waitUntil("the hook is hanging", timeout: 10) { FileManager.default.fileExists(atPath: s.path("hung")) }
        kill(dispatcher.pid, SIGTERM)
        let exit = dispatcher.collect(stdin: nil, timeoutMilliseconds: 15_000)
        #expect(!exit.timedOut, "SIGTERM did not end the dispatcher")
        #expect(exit.status == 0, "\(exit.stderrText)")
        #expect(try attempts(s).map(\.outcome) == ["timeout"])
        // No new attempt starts once shutdown began; the delivery waits for the next dispatcher.
        #expect(try deliveries(s).map(\.state) == ["pending"])
        let hung = try hungPID(s)
        try waitUntil("the hung hook was killed", timeout: 5) { ProcFS.stat(hung).map { $0.hasExited } ?? true }
    }

    func cursor(_ s: Scratch) throws -> Int64 {
        try s.context().ledger.hookCursor()
    }

    @Test func eventsWaitWhileTheHooksFolderCannotBeReadAndAreDeliveredOnceItCan() throws {
        let s = try Scratch(name: "hookunread")
        defer { s.cleanup() }
        let event = try s.stageEvent("death", ticket: "H1", reason: "agent_exited")
        // A file where the folder should be: the listing fails (root reads any mode, so not chmod).
        let dir = try s.write("hooks.d", "not a folder")
        let blocked = try s.mcrun(["event-hooks", "deliver", "--once", "--hooks-dir", dir])
        #expect(blocked.status == 0, "\(blocked.stderrText)")
        #expect(blocked.stderrText.contains("hooks.d"), "\(blocked.stderrText)")
        #expect(try cursor(s) == 0)
        #expect(try deliveries(s).isEmpty)

        unlink(dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = try s.script("hooks.d/death", "#!/bin/sh\ncat >> '\(s.path("received"))'\n")
        #expect(try s.mcrun(["event-hooks", "deliver", "--once", "--hooks-dir", dir]).status == 0)
        #expect(received(s).compactMap { $0["id"]?.intValue } == [event])
        #expect(try cursor(s) == event)
    }

    @Test func aMissingHooksFolderMeansNoHooksAndTheCursorMovesOn() throws {
        let s = try Scratch(name: "hookmiss")
        defer { s.cleanup() }
        let event = try s.stageEvent("death", ticket: "H1")
        #expect(try s.mcrun(["event-hooks", "deliver", "--once", "--hooks-dir", s.path("absent")]).status == 0)
        #expect(try cursor(s) == event)
        #expect(try deliveries(s).isEmpty)
    }

    @Test func killingTheDispatcherMidDeliveryLeadsToRedeliveryNeverToALostEvent() throws {
        let s = try Scratch(name: "hookkill")
        defer { s.cleanup() }
        let (eventID, dir) = try prepare(
            s,
            hook: hangsOnItsFirstAttempt(s))
        // A long timeout: redelivery must not wait for the lease to expire.
        let dispatcher = try s.spawnMcrun(["event-hooks", "deliver", "--hooks-dir", dir, "--timeout", "60s", "--backoff", "10ms"])
        try waitUntil("the first attempt is running", timeout: 10) { FileManager.default.fileExists(atPath: s.path("first")) }
        try waitUntil("the attempt's pid is recorded", timeout: 5) {
            try s.context().ledger.hookAttemptsWithProcess() == 1
        }
        kill(dispatcher.pid, SIGKILL)
        _ = dispatcher.collect(stdin: nil, timeoutMilliseconds: 5_000)
        #expect(try deliveries(s).map(\.state) == ["pending"])
        #expect(received(s).isEmpty)

        let restarted = Instant.now
        #expect(try s.mcrun(["event-hooks", "deliver", "--once", "--hooks-dir", dir, "--timeout", "60s"]).status == 0)
        #expect(Instant.now - restarted < .seconds(30))
        let got = received(s)
        #expect(got.count == 1)
        #expect(got.first?["id"]?.intValue == eventID)
        #expect(try attempts(s).map(\.outcome) == ["interrupted", "ok"])
        #expect(try deliveries(s).map(\.state) == ["delivered"])
        let first = try #require(Int32(try String(contentsOfFile: s.path("first"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        try waitUntil("the orphaned first attempt was killed", timeout: 5) { ProcFS.stat(first).map { $0.hasExited } ?? true }
    }

    /// The same, with the dispatcher inside `mcrun serve`: a serve killed mid-delivery
    /// leaves the delivery pending, and the next serve delivers it once.
    @Test func killingServeMidDeliveryLeadsToRedeliveryAfterItsRestart() throws {
        let s = try Scratch(name: "hookserve")
        defer { s.cleanup() }
        let (eventID, dir) = try prepare(
            s,
            hook: hangsOnItsFirstAttempt(s))
        s.environment["MCRUN_HOOK_TIMEOUT"] = "60000"
        let serve = try s.spawnMcrun(["serve", "--hooks-dir", dir, "--reconcile-interval", "1s"])
        try waitUntil("the first attempt is running", timeout: 15) { FileManager.default.fileExists(atPath: s.path("first")) }
        try waitUntil("the attempt's pid is recorded", timeout: 5) {
            try s.context().ledger.hookAttemptsWithProcess() == 1
        }
        kill(serve.pid, SIGKILL)
        _ = serve.collect(stdin: nil, timeoutMilliseconds: 5_000)
        #expect(try deliveries(s).map(\.state) == ["pending"])
        #expect(received(s).isEmpty)

        let again = try s.spawnMcrun(["serve", "--hooks-dir", dir, "--reconcile-interval", "1s"])
        try waitUntil("the event delivered by the restarted serve", timeout: 30) { try deliveries(s).map(\.state) == ["delivered"] }
        kill(again.pid, SIGTERM)
        _ = again.collect(stdin: nil, timeoutMilliseconds: 10_000)
        let got = received(s)
        #expect(got.count == 1)
        #expect(got.first?["id"]?.intValue == eventID)
        #expect(try attempts(s).map(\.outcome) == ["interrupted", "ok"])
    }

    @Test func hooksRunPerKindAndAnyOnlyForTheNotableKinds() throws {
        let s = try Scratch(name: "hookany")
        defer { s.cleanup() }
        let dir = s.path("hooks.d")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = try s.script("hooks.d/any", "#!/bin/sh\ncat >> '\(s.path("received"))'\n")
        _ = try s.script("hooks.d/README.txt", "not a hook")
        try s.stageEvent("launch", ticket: "H1")
        try s.stageEvent("escalation", ticket: "H1")
        try s.stageEvent("hook_failed", ticket: "H1")
        try s.stageEvent("retry_refused", ticket: "H1", reason: "ticket_parked")
        try s.stageEvent("retry_cancelled", ticket: "H1", reason: "stop")
        #expect(try s.mcrun(["event-hooks", "deliver", "--once", "--hooks-dir", dir]).status == 0)
        #expect(received(s).map { $0["kind"]?.stringValue } == ["escalation", "retry_refused", "retry_cancelled"])
        let list = try s.mcrunJSON(["event-hooks", "list"])
        #expect(list.json["deliveries"]?.arrayValue?.count == 3)
    }
}
