import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

@Suite(.serialized, .timeLimit(.minutes(2)))
struct AdoptTests {
    @Test func busyStartIsAdoptedNotReverted() throws {
        let s = try Scratch(name: "adopt")
        defer { s.cleanup() }
        let (agent, started) = try RecordingAgent.start(s, ticket: "T1", extra: ["--owner", "disp"])
        let pid = try #require(started.at("runtime.pid")?.intValue)
        // Mid-turn: the agent has a message and reports busy.
        #expect(try s.mcrun(["send", "T1", "work"]).status == 0)
        try waitUntil("the agent is mid-turn") { try agent.runtime().busy }

        let (again, conflict) = try startJSON(s, "T1", ["--owner", "disp"], command: ["sleep", "100"])
        #expect(again.status == 4)
        #expect(conflict.at("reason")?.stringValue == "busy")
        #expect(conflict.at("runtime.pid")?.intValue == pid)
        #expect(!again.stderrText.contains("refused"))

        let (adopted, json) = try s.mcrunJSON(["adopt", "T1", "--owner", "disp"])
        #expect(adopted.status == 0, "\(adopted.stderrText)")
        #expect(json.at("runtime.pid")?.intValue == pid)
        #expect(json.at("runtime.state")?.stringValue == "running")
        #expect(json.at("runtime.owner")?.stringValue == "disp")
        #expect(try sessions(s) == ["T1@1"])

        // start --adopt: the same answer in one call.
        let (viaStart, json2) = try startJSON(s, "T1", ["--adopt", "--owner", "disp"], command: ["sleep", "100"])
        #expect(viaStart.status == 0, "\(viaStart.stderrText)")
        #expect(json2.at("adopted")?.boolValue == true)
        #expect(json2.at("runtime.pid")?.intValue == pid)
        #expect(try sessions(s) == ["T1@1"])
        #expect(try runtimeCount(s, ticket: "T1") == 1)

        // The adoption is an event, and the runtime's row was refreshed in place.
        let (_, show) = try s.mcrunJSON(["show", "T1"])
        let kinds = show.at("events")?.arrayValue?.compactMap { $0.at("kind")?.stringValue } ?? []
        #expect(kinds.filter { $0 == "adopt" }.count == 2)
    }

    @Test func deadAgentIsNeverRevived() throws {
        let s = try Scratch(name: "adoptdead")
        defer { s.cleanup() }
        let (result, json) = try startJSON(s, "D1", command: ["sleep", "1000"])
        try #require(result.status == 0)
        let pid = Int32(try #require(json.at("runtime.pid")?.intValue))
        kill(pid, SIGKILL)
        let agent = try #require(try s.context().ledger.runtime(ticket: "D1", episode: nil)?.identity)
        try waitUntil("the agent is gone") { agent.liveness() != .alive }
        let before = try sessions(s)

        let (adopt, declined) = try s.mcrunJSON(["adopt", "D1"])
        #expect(adopt.status == 6)
        #expect(declined.at("reason")?.stringValue == "agent_dead")
        #expect(declined.at("runtime.pid")?.intValue == Int64(pid))
        // Adopt recorded the death it found (counted once); the dead episode stays dead.
        #expect(try s.context().ledger.ticket(id: "D1")?.deaths == 1)
        #expect(try sessions(s) == before.filter { $0 != "D1@1" })
        // start --adopt must not turn a dead row into a revival either: it starts episode 2.
        let (viaStart, started) = try startJSON(s, "D1", ["--adopt"], command: ["sleep", "1000"])
        #expect(viaStart.status == 0, "\(viaStart.stderrText)")
        #expect(started.at("runtime.episode")?.intValue == 2)
        #expect(try runtimeCount(s, ticket: "D1") == 2)
        let firstID = try #require(json.at("runtime.id")?.intValue)
        let first = try #require(try s.context().ledger.runtime(id: firstID))
        #expect(first.state == .dead)
        #expect(first.pid == pid)
        #expect(first.identity?.liveness() != .alive)
        #expect(processes(withNonce: first.nonce).isEmpty)
        #expect(try s.context().ledger.ticket(id: "D1")?.deaths == 1, "the death is counted once, by whoever touched it first")
        _ = try s.mcrun(["stop", "D1", "--grace", "1s"])
    }

    @Test func guardsDeclineWithTheirReasons() throws {
        let s = try Scratch(name: "adoptguard")
        defer { s.cleanup() }
        #expect(try s.mcrunJSON(["adopt", "NONE"]).result.status == 3)

        try #require(try s.mcrun(["start", "G1", "--owner", "alice", "--", "sleep", "1000"]).status == 0)
        let (other, mismatch) = try s.mcrunJSON(["adopt", "G1", "--owner", "bob"])
        #expect(other.status == 6)
        #expect(mismatch.at("reason")?.stringValue == "owner_mismatch")
        let (forced, json) = try s.mcrunJSON(["adopt", "G1", "--owner", "bob", "--force"])
        #expect(forced.status == 0)
        #expect(json.at("runtime.owner")?.stringValue == "bob")

        // Ended: never moved backwards.
        try #require(try s.mcrun(["stop", "G1", "--grace", "2s"]).status == 0)
        let (ended, notAdoptable) = try s.mcrunJSON(["adopt", "G1", "--owner", "bob"])
        #expect(ended.status == 6)
        #expect(notAdoptable.at("reason")?.stringValue == "not_adoptable")
        #expect(notAdoptable.at("runtime.state")?.stringValue == "stopped")

        // Parked: refused by policy, exit 5, for adopt as for start.
        try #require(try s.mcrun(["start", "G2", "--", "sleep", "1000"]).status == 0)
        try #require(try s.mcrun(["park", "G2", "--grace", "2s"]).status == 0)
        let (parked, refusal) = try s.mcrunJSON(["adopt", "G2"])
        #expect(parked.status == 5)
        #expect(refusal.at("reason")?.stringValue == "ticket_parked")
        #expect(!parked.stderrText.contains("already"))
    }
}
