import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// Another process holds the ledger's write lock past the busy timeout: `stop` stops the
/// agent anyway and exits 8; the stop is recorded as a stop once the lock is gone.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct StopLockedLedgerTests {
    static func reader(_ s: Scratch) throws -> Ledger {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in s.environment { env[k] = v }
        return try MCRunContext(readingFrom: StateDirectory(path: s.stateDir), environment: env, actor: "test").ledger
    }

    /// The lock is taken while the stop waits out its grace: the agent is killed, its end
    /// cannot be written, the runtime stays `stopping`, and the next stop records it.
    @Test func aStopWhoseEndCannotBeWrittenExits8AndTheNextStopRecordsIt() throws {
        let s = try Scratch(name: "stopmid")
        defer { s.cleanup() }
        s.environment["MCRUN_BUSY_TIMEOUT"] = "1"
        let (started, json) = try startJSON(s, "M1", command: ["sh", "-c", "trap '' TERM; exec sleep 1000"])
        try #require(started.status == 0, "\(started.stderrText)")
        let pid = try #require(json.at("runtime.pid")?.intValue)

        let stopper = try s.spawnMcrun(["stop", "M1", "--grace", "2s", "--reason", "superseded", "--json"])
        try waitUntil("the stop to be requested") { try Self.reader(s).episodes(ticket: "M1").first?.state == .stopping }
        let lock = try s.holdLedgerLock()
        let stop = stopper.collect(stdin: nil, timeoutMilliseconds: 20_000)
        #expect(stop.status == 8, "exit \(stop.status): \(stop.stderrText)")
        let lines = stop.stderrText.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("stopped M1 episode 1") && lines[0].contains("stays stopping"), "\(stop.stderrText)")
        #expect(ProcFS.stat(Int32(pid)).map { $0.hasExited } ?? true, "the agent must be dead")
        #expect(try Self.reader(s).episodes(ticket: "M1").first?.state == .stopping)

        lock.release()
        let again = try s.mcrun(["stop", "M1", "--grace", "1s"])
        #expect(again.status == 0, "\(again.stderrText)")
        let ledger = try Self.reader(s)
        #expect(try ledger.episodes(ticket: "M1").first?.state == .stopped)
        #expect(try ledger.events(after: 0, ticket: "M1", kinds: ["death"]).isEmpty)
        #expect(try ledger.ticket(id: "M1")?.deaths == 0)
    }
}
