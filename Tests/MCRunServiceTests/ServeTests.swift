import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// `mcrun serve` as a process: deaths noticed by pidfd, one silent retry, escalation,
/// exit status, crash recovery, the single-instance lock.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ServeTests {
    /// Short enough that proving "no third episode" over several delays stays fast.
    static let retryDelay = 0.3
    static let fast = ["--retry-delay", "300ms", "--reconcile-interval", "1s"]

    @Test func firstDeathIsRetriedOnceSilentlyAndTheSecondEscalates() throws {
        let s = try Scratch(name: "retry")
        defer { s.cleanup() }
        let serve = try ServeProcess(s, arguments: Self.fast)
        try serve.waitUntilReady()

        let first = try s.startAgent("T1", ["sleep", "1000"])
        kill(first, SIGKILL)
        try waitUntil("episode 1 recorded dead and episode 2 running") {
            let r = try s.runtimes("T1")
            return r.count == 2 && r[0].state == .dead && r[1].state == .running
        }
        var runtimes = try s.runtimes("T1")
        #expect(runtimes[0].exitSignal == 9)
        #expect(runtimes[0].exitCode == nil)
        #expect(runtimes[1].pid != first)
        #expect(runtimes[1].nonce != runtimes[0].nonce)
        #expect(runtimes[1].argv == ["sleep", "1000"] && runtimes[1].cwd == runtimes[0].cwd)
        #expect(try s.ticketRow("T1")?.deaths == 1)
        #expect(try s.ticketRow("T1")?.escalated == false)
        #expect(try s.events("retry", ticket: "T1").map(\.runtimeID) == [runtimes[1].id])

        kill(try #require(runtimes[1].pid), SIGKILL)
        try waitUntil("the ticket escalated") { try s.ticketRow("T1")?.escalated == true }
        try holdsFalse("a third episode starts", for: Self.retryDelay * 5) { try s.runtimes("T1").count > 2 }
        runtimes = try s.runtimes("T1")
        #expect(runtimes.map(\.state) == [.dead, .dead])
        #expect(runtimes[1].exitSignal == 9)
        #expect(try s.ticketRow("T1")?.deaths == 2)
        #expect(try s.events("death", ticket: "T1").count == 2)
        #expect(try s.events("retry", ticket: "T1").count == 1)
        #expect(try s.events("escalation", ticket: "T1").count == 1)

        // ps shows it; reset clears it (without serve's help) and the ticket can run again.
        let (_, ps) = try s.mcrunJSON(["ps"])
        let row = try #require(ps.at("runtimes")?.arrayValue?.first)
        #expect(row.at("escalated")?.boolValue == true)
        let (reset, json) = try s.mcrunJSON(["reset", "T1"])
        #expect(reset.status == 0)
        #expect(json.at("previous_deaths")?.intValue == 2 && json.at("was_escalated")?.boolValue == true)
        let cleared = try #require(try s.ticketRow("T1"))
        #expect(cleared.deaths == 0 && !cleared.escalated)
        #expect(try s.events("reset", ticket: "T1").count == 1)
    }

    @Test func exitCodeAndSignalAreRecorded() throws {
        let s = try Scratch(name: "status")
        defer { s.cleanup() }
        let agent = try s.write("agent.sh", "#!/bin/sh\nwhile [ ! -e \"$1\" ]; do sleep 0.02; done\nexit 3\n", mode: 0o755)
        let serve = try ServeProcess(s, arguments: ["--max-silent-retries", "0"] + Self.fast)
        try serve.waitUntilReady()

        _ = try s.startAgent("CODE", [agent, s.path("go")])
        let signalled = try s.startAgent("SIG", ["sleep", "1000"])
        _ = try s.write("go", "")
        kill(signalled, SIGTERM)
        // The end is recorded first and torn down after; the last screen comes with the teardown.
        try waitUntil("both deaths recorded and torn down") {
            try ["CODE", "SIG"].allSatisfy { try s.runtimes($0).first.map { $0.state == .dead && !$0.teardownOwed } == true }
        }
        let code = try #require(try s.runtimes("CODE").first)
        let signal = try #require(try s.runtimes("SIG").first)
        #expect(code.exitCode == 3 && code.exitSignal == nil)
        #expect(signal.exitSignal == 15 && signal.exitCode == nil)
        #expect(code.endedBy?.hasPrefix("serve") == true)
        // With no silent retries allowed, the first death escalates.
        #expect(try s.ticketRow("CODE")?.escalated == true)
        #expect(try s.runtimes("CODE").count == 1)
        // The session is gone; the last screen was kept.
        #expect(try s.tmux(["has-session", "-t", "=CODE@1"]).status != 0)
        #expect(code.lastScreen != nil)
    }

    @Test func aDeathWhileServeIsDownIsCountedOnceAndLiveAgentsAreAdopted() throws {
        let s = try Scratch(name: "crash")
        defer { s.cleanup() }
        let first = try ServeProcess(s, arguments: Self.fast, log: "serve1.log")
        try first.waitUntilReady()
        let doomed = try s.startAgent("DOOMED", ["sleep", "1000"])
        let survivor = try s.startAgent("ALIVE", ["sleep", "1000"])

        kill(first.pid, SIGKILL)
        #expect(first.waitForExit(timeout: 10) != nil)
        kill(doomed, SIGKILL)
        try waitUntil("the agent to be gone") { !isAlive(doomed) }
        #expect(try s.runtimes("DOOMED").first?.state == .running, "nobody should record the death while serve is down")

        let second = try ServeProcess(s, arguments: Self.fast, log: "serve2.log")
        try second.waitUntilReady()
        try waitUntil("the death recorded and retried") {
            let r = try s.runtimes("DOOMED")
            return r.count == 2 && r[0].state == .dead && r[1].state == .running
        }
        try holdsFalse("a second death or retry", for: Self.retryDelay * 5) {
            try s.events("death", ticket: "DOOMED").count > 1 || s.events("retry", ticket: "DOOMED").count > 1
                || s.runtimes("DOOMED").count > 2
        }
        #expect(try s.ticketRow("DOOMED")?.deaths == 1)
        #expect(try s.events("death", ticket: "DOOMED").count == 1)
        #expect(try s.events("retry", ticket: "DOOMED").count == 1)

        // The survivor is the same process, watched again: its death is noticed.
        let alive = try s.runtimes("ALIVE")
        #expect(alive.count == 1 && alive[0].state == .running && alive[0].pid == survivor)
        #expect(isAlive(survivor))
        kill(survivor, SIGKILL)
        try waitUntil("the adopted agent's death noticed") { try s.runtimes("ALIVE").count == 2 }
        #expect(try s.runtimes("ALIVE")[0].exitSignal == 9)
    }

    @Test func aSecondServeOnTheSameStateDirectoryIsRefused() throws {
        let s = try Scratch(name: "twice")
        defer { s.cleanup() }
        let serve = try ServeProcess(s, arguments: Self.fast)
        try serve.waitUntilReady()
        let (second, json) = try s.mcrunJSON(["serve"], timeoutMilliseconds: 10_000)
        #expect(second.status == 4)
        #expect(json.at("reason")?.stringValue == "already_running")
        #expect(second.stderrText.contains("another mcrun serve (pid \(serve.pid)) already supervises \(s.stateDir)"))
        #expect(serve.exitStatus() == nil, "the first serve must keep running")
    }

    @Test func orphanSessionsAreReportedOnce() throws {
        let s = try Scratch(name: "orphan")
        defer { s.cleanup() }
        let serve = try ServeProcess(s, arguments: ["--reconcile-interval", "100ms"])
        try serve.waitUntilReady()
        #expect(try s.tmux(["new-session", "-d", "-s", "stray", "sleep", "1000"]).status == 0)
        try waitUntil("an orphan event") { try s.events("orphan").count == 1 }
        try holdsFalse("a second orphan event for the same session", for: 0.5) { try s.events("orphan").count > 1 }
        let session = try s.events("orphan").first?.data["session"]?.stringValue
        #expect(session == "stray")
    }

    @Test func sigtermStopsPromptlyAndLeavesAgentsRunning() throws {
        let s = try Scratch(name: "term")
        defer { s.cleanup() }
        let serve = try ServeProcess(s, arguments: Self.fast)
        try serve.waitUntilReady()
        let agent = try s.startAgent("KEEP", ["sleep", "1000"])
        kill(serve.pid, SIGTERM)
        let status = try #require(serve.waitForExit(timeout: 5), "serve did not exit on SIGTERM")
        #expect(status == 0)
        #expect(isAlive(agent))
        #expect(try s.runtimes("KEEP").first?.state == .running)
    }
}

/// The sd_notify conversation, against a fake `NOTIFY_SOCKET`.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ServeNotifyTests {
    static func count(_ socket: FakeNotifySocket, _ prefix: String) -> Int {
        socket.messages.filter { $0.hasPrefix(prefix) }.count
    }

    static func isStopped(_ pid: Int32) -> Bool { ProcFS.stat(pid)?.state == UInt8(ascii: "T") }

    @Test func readyAfterTheFirstReconcileThenStatusWatchdogAndStopping() async throws {
        let s = try Scratch(name: "notify")
        defer { s.cleanup() }
        let socket = try FakeNotifySocket()
        defer { socket.close() }
        // A death that happened while no serve ran: READY=1 must report it already handled.
        let agent = try s.startAgent("GONE", ["sleep", "1000"])
        kill(agent, SIGKILL)
        try waitUntil("the agent to be gone") { !isAlive(agent) }

        let serve = try ServeProcess(
            s, arguments: ["--max-silent-retries", "0", "--reconcile-interval", "30s"],
            environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "1000000"])
        let ready = try await socket.waitForMessage(timeout: .seconds(15)) { $0.hasPrefix("READY=1") }
        let readyAt = ContinuousClock.now
        #expect(ready.hasPrefix("READY=1\nSTATUS=0 live, 0 busy, 1 escalated; last pass 0s ago; pidfd"), "\(ready)")
        #expect(try s.runtimes("GONE").first?.state == .dead)

        // Pings at half of WATCHDOG_USEC: five of them take about two seconds.
        let before = Self.count(socket, "WATCHDOG=1")
        try waitUntil("five watchdog pings; got \(socket.messages)", timeout: 10) { Self.count(socket, "WATCHDOG=1") >= before + 5 }
        let perPing = (ContinuousClock.now - readyAt) / 5
        #expect(perPing >= .milliseconds(300) && perPing <= .milliseconds(1_000), "one ping every \(perPing)")
        #expect(socket.messages.contains { $0.hasPrefix("STATUS=") && $0.contains("escalated; last pass") })

        // A frozen process sends nothing.
        kill(serve.pid, SIGSTOP)
        try waitUntil("serve to be stopped") { Self.isStopped(serve.pid) }
        let frozen = Self.count(socket, "WATCHDOG=1")
        try holdsFalse("a watchdog ping while stopped", for: 1.5) { Self.count(socket, "WATCHDOG=1") > frozen }
        kill(serve.pid, SIGCONT)
        try waitUntil("pings to resume") { Self.count(socket, "WATCHDOG=1") > frozen }

        kill(serve.pid, SIGTERM)
        try await socket.waitForMessage { $0.hasPrefix("STOPPING=1") }
        #expect(serve.waitForExit(timeout: 5) == 0)
    }
}
