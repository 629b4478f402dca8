import Foundation
import MCRunCore
import MCRunTestSupport
import Testing

@Suite(.serialized, .timeLimit(.minutes(2)))
struct KillSwitchTests {
    @Test func refusesStartAdoptSendButNotObservingOrStopping() throws {
        let s = try Scratch(name: "kill")
        defer { s.cleanup() }
        let (agent, _) = try RecordingAgent.start(s, ticket: "A1")
        try #require(try s.mcrun(["start", "A2", "--", "sleep", "1000"]).status == 0)

        let (on, onJSON) = try s.mcrunJSON(["killswitch", "on", "--reason", "incident 42"])
        #expect(on.status == 0)
        #expect(onJSON.at("killswitch")?.boolValue == true)
        #expect(try s.mcrunJSON(["killswitch", "status"]).json.at("reason")?.stringValue == "incident 42")

        let refused = [
            ["start", "B1", "--json", "--", "sleep", "1"], ["start", "A1", "--adopt", "--json", "--", "sleep", "1"],
            ["adopt", "A1", "--json"], ["send", "A1", "hi", "--json"], ["send", "A1", "--queue", "hi", "--json"],
        ]
        for args in refused {
            let (result, json) = try runJSON(s, args)
            #expect(result.status == 5, "\(args): \(result.stderrText)")
            #expect(json.at("reason")?.stringValue == "killswitch", "\(args)")
            // A policy refusal never reads like a conflict with a live runtime.
            #expect(!result.stderrText.contains("already"), "\(args)")
            #expect(result.stderrText.contains("kill switch"), "\(args)")
        }
        #expect(agent.recorded.isEmpty)
        #expect(try sessions(s).sorted() == ["A1@1", "A2@1"])

        // Observing, stopping and parking keep working.
        #expect(try s.mcrun(["ps"]).status == 0)
        #expect(try s.mcrun(["show", "A1"]).status == 0)
        #expect(try s.mcrun(["stop", "A2", "--grace", "2s"]).status == 0)
        #expect(try s.mcrun(["park", "A1", "--grace", "2s"]).status == 0)
        #expect(try sessions(s).isEmpty)

        #expect(try s.mcrun(["killswitch", "off"]).status == 0)
        #expect(try s.mcrun(["start", "B1", "--", "sleep", "1000"]).status == 0)
        let (_, status) = try s.mcrunJSON(["killswitch", "status"])
        #expect(status.at("killswitch")?.boolValue == false)
    }
}
