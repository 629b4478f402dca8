import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

@Suite(.serialized, .timeLimit(.minutes(3))) struct RaceTests {
    @Test func twentyConcurrentStartsMakeOneSession() throws {
        let s = try Scratch(name: "race")
        defer { s.cleanup() }
        let children = try (0..<20).map { _ in try s.spawnMcrun(["start", "T", "--json", "--", "sleep", "300"]) }
        let results = children.map { $0.collect(stdin: nil, timeoutMilliseconds: 60_000) }
        let winners = results.filter { $0.status == 0 }
        let busy = results.filter { $0.status == 4 }
        #expect(winners.count == 1, "statuses: \(results.map(\.status)) stderr: \(results.map(\.stderrText))")
        #expect(busy.count == 19)
        let winner = try JSONDecoder().decode(JSONValue.self, from: Data(try #require(winners.first).stdout))
        let winnerID = try #require(winner.at("runtime.id"))
        for loser in busy {
            let json = try JSONDecoder().decode(JSONValue.self, from: Data(loser.stdout))
            #expect(json["reason"]?.stringValue == "busy")
            #expect(json.at("runtime.id") == winnerID, "a 409 must name the winner's runtime")
        }
        #expect(try s.sessions() == ["T@1"])
        let live = try s.context().ledger.liveCount()
        #expect(live == 1)
    }

    /// SIGKILL `mcrun start` at many points of its life: afterwards nothing is misreported.
    /// A runtime is either running with a live agent, or shown as unfinished, and every one
    /// can be stopped, after which a new start works.
    @Test func killingStartAtAnyPointLeavesNothingMisreported() throws {
        let s = try Scratch(name: "crash")
        defer { s.cleanup() }
        let delays = [0, 2, 5, 10, 20, 30, 45, 60, 90, 150, 250, 400]
        // Killed before it admitted anything, a start leaves no row and nothing to check:
        // counted, so that a run which checks nothing cannot pass.
        var withoutRow: [Int] = []
        for (i, delay) in delays.enumerated() {
            let ticket = "K\(i)"
            let child = try s.spawnMcrun(["start", ticket, "--", "sleep", "300"])
            usleep(useconds_t(delay * 1000))
            kill(child.pid, SIGKILL)
            _ = child.collect(stdin: nil, timeoutMilliseconds: 10_000)
            if let entry = try s.psEntry(ticket) {
                let status = entry["status"]?.stringValue
                switch status {
                case "running":
                    #expect(entry["alive"]?.boolValue == true, "\(ticket): running but not alive")
                case "launch_abandoned", "launch_failed":
                    #expect(entry["alive"]?.boolValue != true)
                case "launching":
                    // The shim may still be recording; it must settle to running.
                    try waitUntil("\(ticket) settles", timeout: 10) { try s.psEntry(ticket)?["status"]?.stringValue != "launching" }
                default:
                    Issue.record("\(ticket): unexpected status \(status ?? "nil") after killing start at \(delay) ms")
                }
                let stop = try s.mcrun(["stop", ticket, "--grace", "1s"])
                #expect(stop.status == 0, "\(ticket): stop exited \(stop.status): \(stop.stderrText)")
                #expect(try s.psEntry(ticket)?["state"]?.stringValue.map { RuntimeState(rawValue: $0)?.isLive == false } == true)
            } else {
                withoutRow.append(delay)
            }
            #expect(try !s.sessions().contains { $0.hasPrefix("\(ticket)@") }, "\(ticket): a session survived the stop")
            let again = try s.mcrun(["start", ticket, "--", "sleep", "300"])
            #expect(again.status == 0, "\(ticket): start after the crash exited \(again.status): \(again.stderrText)")
            _ = try s.mcrun(["stop", ticket, "--grace", "1s"])
        }
        // Start takes tens of milliseconds to admit (more on a loaded machine); only the
        // early kills may land before it. The late ones must all have left a row to check.
        #expect(delays.count - withoutRow.count >= 4, "only \(delays.count - withoutRow.count) rows checked; none after killing start at \(withoutRow) ms")
        #expect(!withoutRow.contains { $0 >= 150 }, "start killed at \(withoutRow) ms left no row")
    }
}
