import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// Helpers shared by the CLI suites.
extension Scratch {
    func startJSON(_ ticket: String, _ command: [String], extra: [String] = []) throws -> JSONValue {
        let (result, json) = try mcrunJSON(["start", ticket] + extra + ["--"] + command)
        guard result.status == 0 else {
            throw ScratchError("start \(ticket) exited \(result.status): \(result.stderrText)")
        }
        return json
    }

    func psEntry(_ ticket: String, all: Bool = true) throws -> JSONValue? {
        let (_, json) = try mcrunJSON(all ? ["ps", "--all"] : ["ps"])
        return json["runtimes"]?.arrayValue?.first { $0["ticket"]?.stringValue == ticket }
    }

    func sessions() throws -> [String] {
        let r = try tmux(["list-sessions", "-F", "#{session_name}"])
        return r.succeeded ? r.stdoutText.split(separator: "\n").map(String.init) : []
    }
}

func identity(_ json: JSONValue) throws -> AgentIdentity {
    AgentIdentity(
        bootID: try #require(json.at("runtime.boot_id")?.stringValue),
        pid: Int32(try #require(json.at("runtime.pid")?.intValue)),
        startTime: UInt64(try #require(json.at("runtime.start_time")?.intValue)))
}

func nonce(of ticket: String, in scratch: Scratch) throws -> String {
    try #require(try scratch.context().ledger.runtime(ticket: ticket, episode: nil)).nonce
}

func processExists(_ pid: Int32) -> Bool {
    guard let stat = ProcFS.stat(pid) else { return false }
    return !stat.hasExited
}

@Suite(.serialized, .timeLimit(.minutes(2))) struct StartStopTests {
    @Test func theRecordedPIDIsTheAgentNotAShell() throws {
        let s = try Scratch(name: "start")
        defer { s.cleanup() }
        let json = try s.startJSON("T1", ["sleep", "300"])
        #expect(json["code"]?.intValue == 201)
        let pid = try #require(json.at("runtime.pid")?.intValue)
        #expect(ProcFS.cmdline(Int32(pid)) == ["sleep", "300"])
        // The recorded start time is the process's own, so the identity is alive.
        let start = try #require(json.at("runtime.start_time")?.intValue)
        #expect(ProcFS.stat(Int32(pid))?.startTime == UInt64(start))
        #expect(json.at("runtime.alive")?.boolValue == true)
        // The agent got its episode's environment.
        let env = try #require(ProcFS.environ(Int32(pid))).map { String(decoding: $0, as: UTF8.self) }
        #expect(env.contains("MCRUN_TICKET=T1"))
        #expect(env.contains("MCRUN_EPISODE=1"))
        #expect(env.contains { $0.hasPrefix("MCRUN_NONCE=") && $0.count == "MCRUN_NONCE=".count + 32 })
        #expect(try s.sessions() == ["T1@1"])
    }

    @Test func aLiveTicketAnswersBusyWithItsRuntime() throws {
        let s = try Scratch(name: "busy")
        defer { s.cleanup() }
        let first = try s.startJSON("T1", ["sleep", "300"])
        let (again, json) = try s.mcrunJSON(["start", "T1", "--", "sleep", "300"])
        #expect(again.status == 4)
        #expect(json["code"]?.intValue == 409)
        #expect(json["reason"]?.stringValue == "busy")
        #expect(json.at("runtime.pid") == first.at("runtime.pid"))
        #expect(again.stderrText.split(separator: "\n").count == 1)
        #expect(try s.sessions() == ["T1@1"])
    }

    /// The acceptance case as written: the background sleep is in the agent's process group,
    /// so the kernel hangs it up when the agent (the session leader) exits.
    @Test func anAgentWhoseChildOutlivesItIsDeadWithinASecond() throws {
        let s = try Scratch(name: "ghost")
        defer { s.cleanup() }
        let json = try s.startJSON("G0", ["sh", "-c", "sleep 300 & exec sleep 0.2"])
        let agent = try identity(json)
        try waitUntil("the agent exits", timeout: 10) { agent.liveness() != .alive }
        try waitUntil("ps reports the agent dead", timeout: 1) {
            let entry = try s.psEntry("G0")
            return entry?["alive"]?.boolValue == false && entry?["status"]?.stringValue == "dead"
        }
        #expect(try s.mcrun(["stop", "G0", "--grace", "1s"]).status == 0)
        #expect(Leftovers.find(agent: agent, nonce: try nonce(of: "G0", in: s)).isEmpty)
        #expect(try s.sessions().isEmpty)
    }

    /// A child that ignores SIGHUP survives its agent and keeps the pane's terminal open: the
    /// pane looks alive, the agent is dead, and stop must find and kill the child.
    @Test func aChildThatIgnoresHangupIsKilledByStop() throws {
        let s = try Scratch(name: "ghost")
        defer { s.cleanup() }
        let json = try s.startJSON("G1", ["sh", "-c", "trap '' HUP; sleep 300 & exec sleep 0.3"])
        let agent = try identity(json)
        // The background sleep shares the agent's session.
        let child = try #require(Leftovers.find(agent: agent, nonce: "-").first)
        try waitUntil("the agent exits", timeout: 10) { agent.liveness() != .alive }
        try waitUntil("ps reports the agent dead", timeout: 1) {
            let entry = try s.psEntry("G1")
            return entry?["alive"]?.boolValue == false && entry?["status"]?.stringValue == "dead"
        }
        #expect(processExists(child.pid), "the leftover must still be running before stop")
        let stop = try s.mcrunJSON(["stop", "G1", "--grace", "1s"])
        #expect(stop.result.status == 0)
        #expect(stop.json.at("runtime.leftovers_killed")?.intValue == 1)
        #expect(stop.json.at("runtime.exit_code")?.intValue == 0)
        #expect(!processExists(child.pid))
        #expect(try s.sessions().isEmpty)
    }

    @Test func aRecycledIdentityIsDeadAndThatProcessIsNeverSignalled() throws {
        let s = try Scratch(name: "recycle")
        defer { s.cleanup() }
        let json = try s.startJSON("R1", ["sleep", "300"])
        let pid = Int32(try #require(json.at("runtime.pid")?.intValue))
        // Pretend the PID now belongs to another process: same PID, other start time. Another
        // process is not in the runtime's cgroup either: where the runtime has one, it moves
        // out to this test's own cgroup.
        try s.editLedger("UPDATE runtimes SET start_time = start_time + 1 WHERE ticket = 'R1';")
        if let cgroup = json.at("runtime.cgroup")?.stringValue, let own = CgroupHierarchy.current().ownUnified {
            try String(pid).write(toFile: own + "/cgroup.procs", atomically: false, encoding: .utf8)
            for group in CgroupHierarchy.current().ownV1.values {
                try String(pid).write(toFile: group + "/cgroup.procs", atomically: false, encoding: .utf8)
            }
            #expect(!(try String(contentsOfFile: cgroup + "/cgroup.procs", encoding: .utf8)).contains(String(pid)))
        }
        let entry = try #require(try s.psEntry("R1"))
        #expect(entry["alive"]?.boolValue == false)
        #expect(entry["liveness"]?.stringValue == "recycled")
        let stop = try s.mcrun(["stop", "R1", "--grace", "200ms"])
        #expect(stop.status == 0)
        #expect(processExists(pid), "stop signalled a process that is not the recorded agent")
        #expect(ProcFS.cmdline(pid) == ["sleep", "300"])
        kill(pid, SIGKILL)
    }

    @Test func anAgentIgnoringSIGTERMIsKilledAfterTheGraceAndASecondStopChangesNothing() throws {
        let s = try Scratch(name: "grace")
        defer { s.cleanup() }
        let script = try s.write("stubborn.sh", "trap '' TERM\nwhile :; do sleep 1; done\n", mode: 0o755)
        let json = try s.startJSON("S1", ["sh", script])
        let pid = Int32(try #require(json.at("runtime.pid")?.intValue))
        let began = Instant.now
        let stop = try s.mcrunJSON(["stop", "S1", "--grace", "700ms", "--reason", "test"])
        let elapsed = (Instant.now - began).seconds
        #expect(stop.result.status == 0)
        #expect(elapsed >= 0.7, "SIGKILL came before the grace period ended")
        #expect(stop.json.at("runtime.exit_signal")?.intValue == 9)
        #expect(stop.json.at("runtime.state")?.stringValue == "stopped")
        #expect(stop.json.at("runtime.end_reason")?.stringValue == "test")
        #expect(stop.json.at("runtime.ended_by")?.stringValue == "test")
        #expect(!processExists(pid))

        let context = try s.context()
        let eventsBefore = try context.ledger.eventCount()
        let second = try s.mcrunJSON(["stop", "S1"])
        #expect(second.result.status == 0)
        #expect(second.json["already_ended"]?.boolValue == true)
        #expect(try context.ledger.eventCount() == eventsBefore)
    }

    @Test func stopOfAnUnknownTicketIsNotFound() throws {
        let s = try Scratch(name: "nf")
        defer { s.cleanup() }
        let (result, json) = try s.mcrunJSON(["stop", "NOPE"])
        #expect(result.status == 3)
        #expect(json["code"]?.intValue == 404)
        #expect(json["ok"]?.boolValue == false)
    }

    @Test func aCommandThatDoesNotExistIsBadInputAndLeavesNothing() throws {
        let s = try Scratch(name: "nocmd")
        defer { s.cleanup() }
        let result = try s.mcrun(["start", "N1", "--", "/no/such/agent", "x"])
        #expect(result.status == 2)
        #expect(try s.sessions().isEmpty)
        #expect(try s.psEntry("N1") == nil)
    }

    @Test func psAndShowDescribeTheTicket() throws {
        let s = try Scratch(name: "show")
        defer { s.cleanup() }
        _ = try s.startJSON("P1", ["sleep", "300"], extra: ["--owner", "disp-a"])
        let ps = try s.mcrun(["ps"])
        #expect(ps.status == 0)
        let lines = ps.stdoutText.split(separator: "\n")
        #expect(lines.first?.hasPrefix("TICKET") == true)
        #expect(lines.contains { $0.hasPrefix("P1 ") && $0.contains("running") && $0.contains("yes") && $0.contains("disp-a") })
        _ = try s.mcrun(["stop", "P1", "--grace", "1s"])
        let show = try s.mcrunJSON(["show", "P1"])
        #expect(show.json.at("runtime.state")?.stringValue == "stopped")
        let kinds = show.json["events"]?.arrayValue?.compactMap { $0["kind"]?.stringValue }
        #expect(kinds == ["launch", "start", "stopping", "stop", "teardown"])
        // ps without --all hides ended runtimes.
        #expect(try s.psEntry("P1", all: false) == nil)
    }
}
