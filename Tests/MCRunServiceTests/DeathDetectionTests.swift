import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// How serve notices a death between reconcile passes: by pidfd, or by polling where the
/// kernel refuses pidfds. The pass runs once a minute here, so only those can notice it.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct DeathDetectionTests {
    /// A pass every 60 s and no relaunch during the test: what records the death within a
    /// second is the event path, not the safety net.
    static let noPass = ["--reconcile-interval", "60s", "--retry-delay", "3600s"]

    /// Started before serve, so its first pass watches the agent before it is killed.
    static func expectDeathWithinASecond(_ s: Scratch, ticket: String, pid: Int32) throws {
        kill(pid, SIGKILL)
        try waitUntil("the death of \(ticket) recorded within 1 s, long before the next pass", timeout: 1) {
            try s.runtimes(ticket).first?.state == .dead && s.events("death", ticket: ticket).count == 1
        }
        // The exit status is on the death when the kernel had it at once, else the teardown
        // that follows keeps it before the session goes.
        try waitUntil("the teardown of \(ticket) finished", timeout: 5) { try s.runtimes(ticket).first?.teardownOwed == false }
        let dead = try #require(try s.runtimes(ticket).first)
        #expect(dead.exitSignal == 9 && dead.exitCode == nil)
        #expect(dead.endedBy?.hasPrefix("serve") == true)
        #expect(try s.ticketRow(ticket)?.deaths == 1)
    }

    @Test func aDeathIsRecordedByPidfdWithinASecondWithoutAPass() throws {
        try #require(!ProcessHandle.pidfdUnavailable, "this kernel refuses pidfd_open; the pidfd path cannot be tested here")
        let s = try Scratch(name: "pidfd")
        defer { s.cleanup() }
        let agent = try s.startAgent("P1", ["sleep", "1000"])
        let serve = try ServeProcess(s, arguments: Self.noPass)
        try serve.waitUntilReady()
        #expect(serve.log.contains("pidfd"), "serve should say it notices deaths by pidfd:\n\(serve.log)")
        try Self.expectDeathWithinASecond(s, ticket: "P1", pid: agent)
        // A runtime started after serve is watched too (picked up on start's nudge).
        let later = try s.startAgent("P2", ["sleep", "1000"])
        try Self.expectDeathWithinASecond(s, ticket: "P2", pid: later)
    }

    /// pidfd_open refused by a seccomp filter (ENOSYS, as on a kernel without it) in serve
    /// and its children: serve must say so and poll, and still notice a death within a second.
    @Test func withoutPidfdsDeathsAreNoticedByPolling() throws {
        let s = try Scratch(name: "nopidfd")
        defer { s.cleanup() }
        let wrapper = try s.write("no-pidfd.py", Self.noPidfdWrapper)
        let agent = try s.startAgent("N1", ["sleep", "1000"])
        let serve = try ServeProcess(s, arguments: Self.noPass, wrapper: ["/usr/bin/python3", wrapper])
        try serve.waitUntilReady()
        try #require(
            serve.log.contains("refuses pidfd_open"),
            "serve under the filter should report that it polls; if it does not, the filter did not apply:\n\(serve.log)")
        try Self.expectDeathWithinASecond(s, ticket: "N1", pid: agent)
        let later = try s.startAgent("N2", ["sleep", "1000"])
        try Self.expectDeathWithinASecond(s, ticket: "N2", pid: later)
    }

    /// Installs a seccomp filter in which pidfd_open (434 on x86_64 and aarch64) fails with
    /// ENOSYS, then execs its arguments; everything else is allowed.
    static let noPidfdWrapper = #"""
        import ctypes, os, platform, sys
        assert platform.machine() in ("x86_64", "aarch64"), "pidfd_open is 434 only on x86_64 and aarch64"
        class Insn(ctypes.Structure):
            _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]
        class Prog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Insn))]
        ENOSYS = 38
        insns = (Insn * 4)(
            Insn(0x20, 0, 0, 0),                   # load the syscall number
            Insn(0x15, 0, 1, 434),                 # pidfd_open?
            Insn(0x06, 0, 0, 0x00050000 | ENOSYS), # then fail it with ENOSYS
            Insn(0x06, 0, 0, 0x7FFF0000))          # else allow
        prog = Prog(len(insns), insns)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:
            sys.exit("cannot install the seccomp filter: errno %d" % ctypes.get_errno())
        os.execv(sys.argv[1], sys.argv[1:])
        """#
}
