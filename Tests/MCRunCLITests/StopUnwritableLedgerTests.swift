import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// Stop always stops: `stop`, `park` and `killswitch on` act when the ledger cannot be
/// written (a full disk, an immutable ledger), exit 8 with one line saying what was not
/// recorded, and the next command that writes records a stop or park, never a death.
@Suite(
    .serialized, .timeLimit(.minutes(2)),
    .enabled(
        if: geteuid() == 0 || ProcessInfo.processInfo.environment["CI"] == "true",
        "SKIPPED LOUDLY: needs root to mount a tmpfs and to make a file immutable (chattr +i)"))
struct StopUnwritableLedgerTests {
    /// A reading context: assertions must not replay the reserve themselves, as a writer would.
    static func reader(_ s: Scratch) throws -> MCRunContext {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in s.environment { env[k] = v }
        return try MCRunContext(readingFrom: StateDirectory(path: s.stateDir), environment: env, actor: "test")
    }

    static func episodes(_ s: Scratch, _ ticket: String) throws -> [Runtime] {
        try reader(s).ledger.episodes(ticket: ticket).reversed()
    }

    static func events(_ s: Scratch, _ kind: String, ticket: String? = nil) throws -> [Event] {
        try reader(s).ledger.events(after: 0, ticket: ticket, kinds: [kind])
    }

    static func waitGone(_ pid: Int64) throws {
        try waitUntil("agent \(pid) to be gone", timeout: 5) { ProcFS.stat(Int32(pid)).map { $0.hasExited } ?? true }
    }

    static func startSleeper(_ s: Scratch, _ ticket: String) throws -> Int64 {
        let (result, json) = try startJSON(s, ticket, command: ["sleep", "1000"])
        try #require(result.status == 0, "\(result.stderrText)")
        return try #require(json.at("runtime.pid")?.intValue)
    }

    /// The one line on stderr, exit 8, and the reason a dispatcher branches on.
    static func expectUnrecorded(_ result: Subprocess.Result, _ json: JSONValue, reason: String) {
        #expect(result.status == 8, "exit \(result.status): \(result.stderrText)")
        #expect(json.at("reason")?.stringValue == reason, "\(json)")
        #expect(json.at("code")?.intValue == 207, "\(json)")
        let lines = result.stderrText.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("could not record"), "stderr: \(result.stderrText)")
    }

    @Test func parkOnAFullDiskStopsTheAgentAndHoldsTheTicketOnceRecorded() throws {
        let s = try Scratch(name: "fullpark")
        defer { s.cleanup() }
        try s.mountSmallStateDisk()
        let pid = try Self.startSleeper(s, "F1")
        let fill = try Subprocess.run(["dd", "if=/dev/zero", "of=\(s.stateDir)/fill", "bs=4096"], timeoutMilliseconds: 30_000)
        try #require(!fill.succeeded && fill.stderrText.contains("No space left"), "dd: \(fill.stderrText)")
        try #require(try s.mcrun(["config", "capacity", "9"]).status == 1, "the full disk still takes writes: the test proves nothing")

        let (park, json) = try runJSON(s, ["park", "F1", "--grace", "1s", "--reason", "disk full", "--json"])
        Self.expectUnrecorded(park, json, reason: "park_unrecorded")
        try Self.waitGone(pid)
        #expect(try Self.episodes(s, "F1").last?.state == .running, "nothing could be recorded while the disk is full")

        // The fault goes; the next command that writes records the park.
        #expect(unlink(s.stateDir + "/fill") == 0)
        let (start, refused) = try startJSON(s, "F1", command: ["sleep", "1000"])
        #expect(start.status == 5 && refused.at("reason")?.stringValue == "ticket_parked", "\(start.stderrText)")
        let runtimes = try Self.episodes(s, "F1")
        #expect(runtimes.count == 1 && runtimes[0].state == .stopped, "\(runtimes.map(\.state))")
        let ticket = try #require(try Self.reader(s).ledger.ticket(id: "F1"))
        #expect(ticket.parked && ticket.deaths == 0 && !ticket.escalated)
        #expect(try Self.events(s, "death", ticket: "F1").isEmpty)
        let end = try #require(try Self.events(s, "park_stop", ticket: "F1").first)
        #expect(end.data.at("recorded_late")?.boolValue == true)
        #expect(try IntentReserve(directory: StateDirectory(path: s.stateDir)).pending().isEmpty)
    }

    @Test func stopAndKillSwitchOnAnImmutableLedger() throws {
        let s = try Scratch(name: "immstop")
        defer { s.cleanup() }
        let pid = try Self.startSleeper(s, "I1")
        let ledger = s.stateDir + "/ledger.sqlite"
        let frozen = [ledger, s.stateDir]
        s.onCleanup { _ = try? Subprocess.run(["chattr", "-i"] + frozen) }
        let chattr = try Subprocess.run(["chattr", "+i"] + frozen)
        try #require(chattr.succeeded, "chattr: \(chattr.stderrText)")
        try #require(try s.mcrun(["config", "capacity", "9"]).status == 1, "the immutable ledger still takes writes: the test proves nothing")

        let (on, onJSON) = try runJSON(s, ["killswitch", "on", "--reason", "disk incident", "--json"])
        Self.expectUnrecorded(on, onJSON, reason: "killswitch_unrecorded")
        let (_, status) = try s.mcrunJSON(["killswitch", "status"])
        #expect(status.at("killswitch")?.boolValue == true && status.at("unrecorded")?.boolValue == true, "\(status)")

        let (stop, stopJSON) = try runJSON(s, ["stop", "I1", "--grace", "1s", "--json"])
        Self.expectUnrecorded(stop, stopJSON, reason: "stop_unrecorded")
        try Self.waitGone(pid)

        #expect(try Subprocess.run(["chattr", "-i"] + frozen).succeeded)
        // The next command that writes records both; the switch refuses the start.
        let (start, refused) = try startJSON(s, "I2", command: ["sleep", "1000"])
        #expect(start.status == 5 && refused.at("reason")?.stringValue == "killswitch", "\(start.stderrText)")
        let runtime = try #require(try Self.episodes(s, "I1").last)
        #expect(runtime.state == .stopped)
        #expect(try Self.events(s, "death", ticket: "I1").isEmpty)
        #expect(try Self.reader(s).ledger.ticket(id: "I1")?.deaths == 0)
        let switched = try #require(try Self.events(s, "killswitch").last)
        #expect(switched.data.at("recorded_late")?.boolValue == true && switched.reason == "disk incident")
        #expect(try s.mcrun(["killswitch", "off"]).status == 0)
        #expect(try startJSON(s, "I2", command: ["sleep", "1000"]).result.status == 0)
    }
}
