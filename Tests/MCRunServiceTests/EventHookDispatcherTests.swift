import Foundation
import Logging
import MCRunCore
import MCRunTestSupport
import Testing

@testable import MCRunService

@Suite(.timeLimit(.minutes(2)))
struct EventHookDispatcherTests {
    @Test func backoffDoublesFromTheBaseAndIsCapped() {
        var c = EventHookDispatcher.Configuration(directory: "/nonexistent")
        c.backoffMilliseconds = 100
        c.maxBackoffMilliseconds = 1_000
        #expect((1...6).map { c.backoff(afterAttempt: $0) } == [100, 200, 400, 800, 1_000, 1_000])
        #expect(c.backoff(afterAttempt: 200) == 1_000)
    }

    @Test func hooksMatchTheirKindAndAnyMatchesOnlyNotableKinds() {
        let hooks = ["death": "/h/death", "any": "/h/any", "start": "/h/start", "hook_failed": "/h/hook_failed"]
        #expect(EventHookDispatcher.hookNames(for: "death", among: hooks) == ["death", "any"])
        #expect(EventHookDispatcher.hookNames(for: "start", among: hooks) == ["start"])
        #expect(EventHookDispatcher.hookNames(for: "stopping", among: hooks) == [])
        #expect(EventHookDispatcher.hookNames(for: "quarantine", among: hooks) == ["any"])
        // A relaunch refused by policy, or dropped by a stop or park, is news too.
        #expect(EventHookDispatcher.hookNames(for: "retry_refused", among: hooks) == ["any"])
        #expect(EventHookDispatcher.hookNames(for: "retry_cancelled", among: hooks) == ["any"])
        // A hook's failure never feeds a hook.
        #expect(EventHookDispatcher.hookNames(for: "hook_failed", among: hooks) == [])
    }

    @Test func theServiceDeliversAndStopsOnGracefulShutdown() async throws {
        let s = try Scratch(name: "svc")
        defer { s.cleanup() }
        let context = try s.context()
        let dir = s.path("hooks.d")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = try s.script("hooks.d/orphan", "#!/bin/sh\ncat >> '\(s.path("received"))'\n")
        try s.stageEvent("orphan", ticket: "O1")
        var configuration = EventHookDispatcher.Configuration(directory: dir)
        configuration.pollMilliseconds = 20
        let dispatcher = try EventHookDispatcher(context: context, configuration: configuration, logger: Logger(label: "test"))
        let task = Task { try await dispatcher.run() }
        try waitUntil("the orphan hook ran", timeout: 10) {
            ((try? String(contentsOfFile: s.path("received"), encoding: .utf8)) ?? "").contains("\"kind\":\"orphan\"")
        }
        dispatcher.stop()
        try await task.value
    }
}
