import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// WATCHDOG=1 while serve runs but its pass cannot complete: the process is alive and its
/// heartbeat timer ticks, yet no ping may go out.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct WatchdogStuckPassTests {
    static func pings(_ socket: FakeNotifySocket) -> Int {
        socket.messages.filter { $0.hasPrefix("WATCHDOG=1") }.count
    }

    static func startNotified(_ s: Scratch, _ socket: FakeNotifySocket, environment: [String: String] = [:]) async throws -> ServeProcess {
        let serve = try ServeProcess(
            s, arguments: ["--reconcile-interval", "30s", "--retry-delay", "3600s"],
            environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "1000000"].merging(environment) { $1 })
        try await socket.waitForMessage(timeout: .seconds(15)) { $0.hasPrefix("READY=1") }
        let before = pings(socket)
        try waitUntil("two watchdog pings; got \(socket.messages)", timeout: 5) { pings(socket) >= before + 2 }
        return serve
    }

    /// Waits until no ping has come for `quiet` seconds (pings already due may still land
    /// right after the pass got stuck), failing after `timeout`.
    static func waitForPingsToStop(_ socket: FakeNotifySocket, quiet: Double = 1.5, timeout: Double = 15) throws {
        var last = pings(socket)
        var since = Instant.now
        try waitUntil("watchdog pings to stop for \(quiet) s; got \(socket.messages.suffix(6))", timeout: timeout, every: 0.05) {
            let now = pings(socket)
            if now != last {
                last = now
                since = Instant.now
            }
            return (Instant.now - since).seconds >= quiet
        }
    }

    static func isStopped(_ pid: Int32) -> Bool { ProcFS.stat(pid)?.state == UInt8(ascii: "T") }

    @Test func pingsStopWhileMcrunsTmuxServerDoesNotAnswerAndResumeAfter() async throws {
        let s = try Scratch(name: "wdtmux")
        defer { s.cleanup() }
        let socket = try FakeNotifySocket()
        defer { socket.close() }
        _ = try s.startAgent("W1", ["sleep", "1000"])
        let serve = try await Self.startNotified(s, socket)
        let tmuxPID = try #require(Int32(try s.tmux(["display-message", "-p", "#{pid}"]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(tmuxPID, SIGSTOP)
        s.onCleanup { kill(tmuxPID, SIGCONT) }
        try waitUntil("the tmux server to be stopped") { Self.isStopped(tmuxPID) }

        try Self.waitForPingsToStop(socket)
        #expect(serve.exitStatus() == nil && !Self.isStopped(serve.pid), "serve itself must be running")
        let stuck = Self.pings(socket)
        try holdsFalse("a watchdog ping while tmux does not answer", for: 2) { Self.pings(socket) > stuck }
        #expect(serve.exitStatus() == nil, "serve must still run")
        try waitUntil("STATUS= to say the passes fail, and since when; got \(socket.messages.suffix(3))", timeout: 5) {
            let status = Self.lastStatus(socket) ?? ""
            return status.hasPrefix("loop stuck: no full pass for ") || status.hasPrefix("reconcile failing for ")
        }

        kill(tmuxPID, SIGCONT)
        try waitUntil("pings to resume once tmux answers again", timeout: 15) { Self.pings(socket) > stuck }
    }

    /// The spec: "WATCHDOG=1 is sent only when ... every death noticed has been recorded".
    /// A writer holds the ledger; an agent dies; its death cannot be written.
    @Test func pingsStopWhileANoticedDeathCannotBeRecorded() async throws {
        let s = try Scratch(name: "wdlock")
        defer { s.cleanup() }
        let socket = try FakeNotifySocket()
        defer { socket.close() }
        let agent = try s.startAgent("W2", ["sleep", "1000"])
        let serve = try await Self.startNotified(s, socket, environment: ["MCRUN_BUSY_TIMEOUT": "1"])
        let lock = try s.holdLedgerLock(exclusive: true)
        kill(agent, SIGKILL)
        try waitUntil("serve to fail to record the death; log:\n\(serve.log)", timeout: 10) {
            serve.log.contains("cannot record a death")
        }
        #expect(try s.runtimes("W2").first?.state == .running, "the death cannot be written while the lock is held")
        // From here on a death is noticed and not recorded: no ping may go out.
        let after = Self.pings(socket)
        // Four watchdog intervals: the pings stay off for as long as the death waits.
        try holdsFalse("a watchdog ping while a noticed death is unrecorded (pings \(after) then \(socket.messages.suffix(4)))", for: 4) {
            Self.pings(socket) > after
        }
        // STATUS= names what is failing, and for how long.
        let status = try #require(Self.lastStatus(socket))
        #expect(status.hasPrefix("cannot record 1 death: the ledger is locked by another process for "), "\(status)")

        lock.release()
        try waitUntil("the death recorded once the lock is gone", timeout: 20) { try s.runtimes("W2").first?.state == .dead }
        #expect(try s.events("death", ticket: "W2").count == 1)
        try waitUntil("pings to resume and STATUS= to be healthy; got \(socket.messages.suffix(4))", timeout: 10) {
            Self.pings(socket) > after && Self.lastStatus(socket)?.hasPrefix("0 live") == true
        }
    }

    static func lastStatus(_ socket: FakeNotifySocket) -> String? {
        for message in socket.messages.reversed() {
            if let line = message.split(separator: "\n").first(where: { $0.hasPrefix("STATUS=") }) { return String(line.dropFirst(7)) }
        }
        return nil
    }

    /// READY only after the first pass has recorded what it found; when it cannot (a death
    /// waits on a locked ledger), READY comes after the start-up bound (WatchdogSec) with a
    /// STATUS= that says so, and no ping goes out until the death is recorded.
    @Test func readyWaitsForTheFirstPassToRecordItsDeathsThenComesDegraded() async throws {
        let s = try Scratch(name: "wdready")
        defer { s.cleanup() }
        let socket = try FakeNotifySocket()
        defer { socket.close() }
        // The last connection to close empties the write-ahead log, and opening a ledger whose
        // log is empty writes (GRDB creates it): a reader kept open, as a running serve or
        // dispatcher would, leaves the log in place, so the new serve can open the ledger
        // while another process holds the write lock.
        _ = try s.mcrun(["config"])
        let keeper = try Subprocess.spawn(["sqlite3", "-cmd", "SELECT count(*) FROM settings", s.stateDir + "/ledger.sqlite"])
        defer {
            kill(keeper.pid, SIGKILL)
            _ = keeper.collect(stdin: nil, timeoutMilliseconds: 5_000)
        }
        let agent = try s.startAgent("W3", ["sleep", "1000"])
        let lock = try s.holdLedgerLock()
        kill(agent, SIGKILL)
        try waitUntil("the agent to be gone") { !isAlive(agent) }
        let began = Instant.now
        let serve = try ServeProcess(
            s, arguments: ["--reconcile-interval", "30s"],
            environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "2000000", "MCRUN_BUSY_TIMEOUT": "1"])
        try waitUntil("serve to fail to record the death it found; log:\n\(serve.log)", timeout: 10) {
            if let status = serve.exitStatus() { throw ScratchError("mcrun serve exited (\(status)): \(serve.log)") }
            return serve.log.contains("cannot record a death")
        }
        let ready = try await socket.waitForMessage(timeout: .seconds(15)) { $0.hasPrefix("READY=1") }
        let waited = (Instant.now - began).seconds
        #expect(waited >= 1.9, "READY after \(waited) s, before the first pass recorded the death")
        #expect(ready.contains("STATUS=") && ready.contains("degraded: no full reconcile pass in"), "\(ready)")
        #expect(Self.pings(socket) == 0, "\(socket.messages)")
        try waitUntil("STATUS= to name the death it cannot record; got \(socket.messages.suffix(3))", timeout: 5) {
            Self.lastStatus(socket)?.hasPrefix("cannot record 1 death: the ledger is locked by another process for ") == true
        }
        try holdsFalse("a watchdog ping while the death found at start is unrecorded", for: 2) { Self.pings(socket) > 0 }

        lock.release()
        try waitUntil("the death recorded once the lock is gone", timeout: 20) { try s.runtimes("W3").first?.state == .dead }
        try waitUntil("pings once the death is recorded; got \(socket.messages.suffix(4))", timeout: 10) { Self.pings(socket) > 0 }
        #expect(socket.messages.filter { $0.hasPrefix("READY=1") }.count == 1)
    }
}
