import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// `ps` lists every ticket that needs attention, a relaunch owed included, and says what
/// program a live agent PID runs now.
@Suite(.serialized)
struct ListAttentionTests {
    /// `mcrun serve` with a long retry delay, its output in a file nobody has to drain.
    func serve(_ s: Scratch, retryDelay: String = "10m") throws {
        let log = s.path("serve.log")
        _ = try Subprocess.spawn(
            ["/bin/sh", "-c", "exec \"$0\" serve --retry-delay \"$2\" --reconcile-interval 1s > \"$1\" 2>&1", Scratch.mcrunPath, log, retryDelay],
            environment: s.processEnvironment, workingDirectory: s.directory)
        try waitUntil("mcrun serve to finish its first pass", timeout: 15) {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("event=ready")
        }
    }

    func listed(_ s: Scratch, _ ticket: String, all: Bool = false) throws -> JSONValue? {
        let (result, json) = try s.mcrunJSON(["ps"] + (all ? ["--all"] : []))
        try #require(result.status == 0, "\(result.stderrText)")
        return json["runtimes"]?.arrayValue?.first { $0["ticket"]?.stringValue == ticket }
    }

    /// The agent dies; serve records the death and owes a relaunch due in ten minutes.
    func ticketInRetryDelay(_ s: Scratch, _ ticket: String) throws {
        try serve(s)
        let (result, json) = try startJSON(s, ticket, command: ["sleep", "1000"])
        try #require(result.status == 0, "\(result.stderrText)")
        let pid = try #require(json.at("runtime.pid")?.intValue)
        #expect(kill(Int32(pid), SIGKILL) == 0)
        try waitUntil("serve recorded the death and owes a relaunch") {
            try listed(s, ticket)?.at("relaunch.due_at") != nil
        }
    }

    @Test func aTicketInItsRetryDelayIsListedWithWhenTheRelaunchIsDue() throws {
        let s = try Scratch(name: "psretry")
        defer { s.cleanup() }
        try ticketInRetryDelay(s, "W1")

        // Listed without --all: it is dead, but something is owed to it.
        let row = try #require(try listed(s, "W1"))
        #expect(row["state"]?.stringValue == "dead")
        let due = try #require(row.at("relaunch.due_at")?.doubleValue)
        #expect(due > Date().timeIntervalSince1970 + 60)
        #expect(row.at("relaunch.held_reason") == .null)
        let table = try s.mcrun(["ps"]).stdoutText
        #expect(table.contains("W1") && table.contains("relaunch due in 9m"), "\(table)")
    }

    /// Under the kill switch the relaunch stays owed, held with the reason; `ps` and `show`
    /// say why and since when.
    @Test func aRelaunchHeldByTheKillSwitchShowsWhy() throws {
        let s = try Scratch(name: "psheld")
        defer { s.cleanup() }
        try serve(s, retryDelay: "100ms")
        let (result, json) = try startJSON(s, "H1", command: ["sleep", "1000"])
        try #require(result.status == 0, "\(result.stderrText)")
        #expect(try s.mcrun(["killswitch", "on", "--reason", "drill"]).status == 0)
        let before = Date().timeIntervalSince1970
        #expect(kill(Int32(try #require(json.at("runtime.pid")?.intValue)), SIGKILL) == 0)
        try waitUntil("serve held the relaunch for the kill switch") {
            try listed(s, "H1")?.at("relaunch.held_reason")?.stringValue == "killswitch"
        }

        let row = try #require(try listed(s, "H1"))
        #expect((row.at("relaunch.held_since")?.doubleValue ?? 0) >= before)
        let table = try s.mcrun(["ps"]).stdoutText
        #expect(table.contains("relaunch held: killswitch (since "), "\(table)")
        #expect(try s.mcrunJSON(["show", "H1"]).json.at("relaunch.held_reason")?.stringValue == "killswitch")
    }

    @Test func aWrapperThatExecdIntoAnotherProgramIsFlagged() throws {
        let s = try Scratch(name: "psexec")
        defer { s.cleanup() }
        #expect(try s.mcrun(["start", "X1", "--", "sh", "-c", "exec sleep 60"]).status == 0)
        #expect(try s.mcrun(["start", "X2", "--", "sleep", "60"]).status == 0)

        try waitUntil("the wrapper of X1 exec'd into sleep") { try listed(s, "X1")?["program"]?.stringValue == "sleep" }
        let wrapped = try #require(try listed(s, "X1"))
        #expect(wrapped["launched"]?.stringValue == "sh")
        let direct = try #require(try listed(s, "X2"))
        #expect(direct["program"]?.stringValue == "sleep" && direct["launched"]?.stringValue == "sleep")

        let table = try s.mcrun(["ps"]).stdoutText.split(separator: "\n")
        #expect(table.first { $0.hasPrefix("X1 ") }?.contains("exec'd:sleep") == true, "\(table)")
        #expect(table.first { $0.hasPrefix("X2 ") }?.contains("exec'd") == false, "\(table)")

        // Ended: nothing runs, so no program is claimed.
        #expect(try s.mcrun(["stop", "X2", "--grace", "1s"]).status == 0)
        #expect(try listed(s, "X2", all: true)?["program"] == .null)
    }
}
