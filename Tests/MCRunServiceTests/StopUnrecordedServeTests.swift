import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// A stop made while another process holds the ledger's write lock: the agent is stopped
/// at once (exit 8), and serve, which sees the agent's end, records it as that stop once
/// the lock is gone: no death counted, no relaunch, no escalation.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct StopUnrecordedServeTests {
    static func reader(_ s: Scratch) throws -> MCRunContext {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in s.environment { env[k] = v }
        return try MCRunContext(readingFrom: StateDirectory(path: s.stateDir), environment: env, actor: "test")
    }

    @Test func aStopOnALockedLedgerIsRecordedByServeAsAStop() async throws {
        let s = try Scratch(name: "stoplock")
        defer { s.cleanup() }
        s.environment["MCRUN_BUSY_TIMEOUT"] = "1"
        let agent = try s.startAgent("L1", ["sleep", "1000"])
        let serve = try ServeProcess(s, arguments: ["--reconcile-interval", "1s", "--retry-delay", "1s"])
        try serve.waitUntilReady()
        let lock = try s.holdLedgerLock()

        let stop = try s.mcrun(["stop", "L1", "--grace", "1s", "--json"])
        #expect(stop.status == 8, "exit \(stop.status): \(stop.stderrText)")
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(stop.stdout))
        #expect(json.at("reason")?.stringValue == "stop_unrecorded")
        let lines = stop.stderrText.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("stopped L1 episode 1") && lines[0].contains("could not record"), "\(stop.stderrText)")
        #expect(!isAlive(agent), "the agent must be stopped although nothing could be recorded")
        try waitUntil("serve to notice the end and fail to record it; log:\n\(serve.log)", timeout: 10) {
            serve.log.contains("cannot record a death")
        }
        #expect(try Self.reader(s).ledger.episodes(ticket: "L1").first?.state == .running)

        lock.release()
        try waitUntil("serve to record the stop; log:\n\(serve.log)", timeout: 15) {
            try Self.reader(s).ledger.episodes(ticket: "L1").first?.state == .stopped
        }
        // A relaunch would be due 1 s after a death: none comes.
        try holdsFalse("a relaunch of a stopped ticket", for: 3) { try Self.reader(s).ledger.episodes(ticket: "L1").count > 1 }
        let ledger = try Self.reader(s).ledger
        #expect(try ledger.events(after: 0, ticket: "L1", kinds: ["death", "escalation", "retry"]).isEmpty)
        let ticket = try #require(try ledger.ticket(id: "L1"))
        #expect(ticket.deaths == 0 && !ticket.escalated)
        let end = try #require(try ledger.events(after: 0, ticket: "L1", kinds: ["stop"]).first)
        #expect(end.data.at("recorded_late")?.boolValue == true, "\(end.data)")
        #expect(serve.exitStatus() == nil, "serve must still run")
    }
}
