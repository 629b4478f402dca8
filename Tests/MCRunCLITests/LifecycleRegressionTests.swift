import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

@Suite(.serialized, .timeLimit(.minutes(1)))
struct LifecycleRegressionTests {
    /// The usual dispatcher flow, DONE then stop, must leave the ticket in good standing:
    /// the accepted completion resets the death count and the escalation.
    @Test func doneThenStopResetsTheDeathCount() throws {
        let s = try Scratch(name: "done")
        defer { s.cleanup() }
        let context = try s.context()
        try s.editLedger("INSERT INTO tickets(id, deaths, escalated, created_at, updated_at) VALUES ('D1', 1, 1, 0, 0);")
        let signal = "'\(Scratch.mcrunPath)' signal DONE --summary finished && exec sleep 1000"
        // Escalated means held: only a forced start runs it before a reset.
        _ = try s.startJSON("D1", ["sh", "-c", signal], extra: ["--force"])
        try waitUntil("the DONE accepted") {
            try context.ledger.runtime(ticket: "D1", episode: nil)?.verdict == .done
        }
        let standing = try #require(try context.ledger.ticket(id: "D1"))
        #expect(standing.deaths == 0)
        #expect(standing.escalated == false)
        let stop = try s.mcrunJSON(["stop", "D1", "--grace", "1s"])
        #expect(stop.json.at("runtime.state")?.stringValue == "completed")
        #expect(try context.ledger.ticket(id: "D1")?.deaths == 0)
    }

    /// tmux numbers sessions and panes anew after a server restart: ending one runtime must
    /// never touch the session another ticket got under the same `$N`.
    @Test func endingARuntimeAfterATmuxRestartLeavesOtherTicketsAlone() throws {
        let s = try Scratch(name: "reuse")
        defer { s.cleanup() }
        let a = try s.startJSON("A", ["sleep", "1000"])
        #expect(try s.tmux(["kill-server"]).status == 0)
        let b = try s.startJSON("B", ["sleep", "1000"])
        #expect(a.at("runtime.session_id") == b.at("runtime.session_id"), "the premise: tmux reused the session id")
        #expect(a.at("runtime.pane") == b.at("runtime.pane"), "the premise: tmux reused the pane id")
        let bPID = Int32(try #require(b.at("runtime.pid")?.intValue))
        #expect(try s.mcrun(["stop", "A", "--grace", "1s"]).status == 0)
        #expect(try s.sessions().contains("B@1"))
        #expect(processExists(bPID))
        #expect(try s.psEntry("B")?["status"]?.stringValue == "running")
        // And a send to A cannot reach B through A's old pane id: A has no live runtime, so
        // the send is refused before any pane is addressed (not failed by some other error).
        let (send, refusal) = try s.mcrunJSON(["send", "A", "hello"])
        #expect(send.status == 3, "\(send.stderrText)")
        #expect(refusal.at("reason")?.stringValue == "no_runtime")
        let bPane = try #require(b.at("runtime.pane")?.stringValue)
        #expect(try !s.tmux(["capture-pane", "-p", "-t", bPane]).stdoutText.contains("hello"))
    }
}
