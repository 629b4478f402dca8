import Foundation
import MCRunCore
import MCRunTestSupport
import Testing

/// A refused command leaves a trace: one `refused` event per (ticket, reason) and window,
/// a count in `show`, and nothing different in what the refused command itself prints.
@Suite(.serialized)
struct RefusalTraceTests {
    func refusedEvents(_ s: Scratch, ticket: String) throws -> [JSONValue] {
        let result = try s.mcrun(["events", "--ticket", ticket, "--kind", "refused"])
        try #require(result.status == 0, "\(result.stderrText)")
        return result.stdoutText.split(separator: "\n").compactMap { JSONValue.parse(String($0)) }
    }

    @Test func twentyBusyStartsWriteOneEventAndCountTwentyThenANewWindowSaysWhatItSuppressed() throws {
        let s = try Scratch(name: "refuse")
        defer { s.cleanup() }
        s.environment["MCRUN_REFUSAL_WINDOW"] = "600"
        #expect(try s.mcrun(["start", "R1", "--", "sleep", "60"]).status == 0)

        var outputs: [String] = []
        for _ in 0..<20 {
            let (result, json) = try startJSON(s, "R1", command: ["sleep", "60"])
            #expect(result.status == 4, "\(result.stderrText)")
            #expect(json["ok"]?.boolValue == false && json["code"]?.intValue == 409 && json["reason"]?.stringValue == "busy")
            #expect(json["exit"]?.intValue == 4 && json.at("runtime.episode")?.intValue == 1)
            #expect(result.stderrText.split(separator: "\n").count == 1, "one line on stderr: \(result.stderrText)")
            outputs.append(result.stdoutText)
        }
        // The first refusal wrote the event, the others only counted: the output never shows it.
        #expect(Set(outputs).count == 1, "every refused start printed the same JSON")

        let events = try refusedEvents(s, ticket: "R1")
        #expect(events.count == 1)
        #expect(events.first?.at("reason")?.stringValue == "busy")
        #expect(events.first?.at("data.action")?.stringValue == "start")
        #expect(events.first?.at("data.code")?.intValue == 4)
        #expect(events.first?.at("data.count")?.intValue == 1)
        #expect(events.first?.at("data.window_seconds")?.doubleValue == 600)
        #expect(events.first?.at("data.suppressed") == nil)

        let show = try s.mcrunJSON(["show", "R1"])
        let refusals = show.json["refusals"]?.arrayValue ?? []
        #expect(refusals.count == 1)
        #expect(refusals.first?["reason"]?.stringValue == "busy")
        #expect(refusals.first?["action"]?.stringValue == "start")
        #expect(refusals.first?["count"]?.intValue == 20)
        #expect(refusals.first?["total"]?.intValue == 20)
        #expect(refusals.first?["last_at"]?.doubleValue != nil)
        #expect(try s.mcrun(["show", "R1"]).stdoutText.contains("last refusal: start busy"))

        // A window of 0 has closed by the next refusal: a new event, carrying what the last
        // window folded in without one.
        s.environment["MCRUN_REFUSAL_WINDOW"] = "0"
        let (late, _) = try startJSON(s, "R1", command: ["sleep", "60"])
        #expect(late.status == 4)
        #expect(late.stdoutText == outputs.first)
        let after = try refusedEvents(s, ticket: "R1")
        #expect(after.count == 2)
        #expect(after.last?.at("data.suppressed")?.intValue == 19)
        #expect(after.last?.at("data.count")?.intValue == 1)
        let count = try s.mcrunJSON(["show", "R1"]).json["refusals"]?.arrayValue?.first
        #expect(count?["count"]?.intValue == 1 && count?["total"]?.intValue == 21)
    }

    @Test func policyRefusalsAreTracedPerReasonWithTheirExitCode() throws {
        let s = try Scratch(name: "refpol")
        defer { s.cleanup() }
        #expect(try s.mcrun(["killswitch", "on", "--reason", "drill"]).status == 0)
        let (result, json) = try startJSON(s, "P1", command: ["sleep", "60"])
        #expect(result.status == 5)
        #expect(json["reason"]?.stringValue == "killswitch")
        let events = try refusedEvents(s, ticket: "P1")
        #expect(events.count == 1)
        #expect(events.first?.at("data.code")?.intValue == 5)
        #expect(events.first?.at("reason")?.stringValue == "killswitch")
        // Bad input is not a refusal: nothing is traced for it.
        #expect(try s.mcrun(["start", "P1"]).status == 2)
        #expect(try refusedEvents(s, ticket: "P1").count == 1)
    }
}
