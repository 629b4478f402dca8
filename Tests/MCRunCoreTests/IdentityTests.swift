import Glibc
import Testing

@testable import MCRunCore

@Suite struct IdentityTests {
    @Test func parsesStatAfterTheLastParenthesis() throws {
        // A command name may hold spaces and parentheses: "(a) b)".
        let line = "4242 ((a) b)) S 1 4242 4242 34816 4242 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100"
        let stat = try #require(ProcFS.parseStat(Array(line.utf8), pid: 4242))
        #expect(stat.state == UInt8(ascii: "S"))
        #expect(stat.ppid == 1)
        #expect(stat.session == 4242)
        #expect(stat.startTime == 987654)
    }

    @Test func ownIdentityIsAlive() throws {
        let me = try AgentIdentity.current()
        #expect(me.pid == getpid())
        #expect(me.liveness() == .alive)
        #expect(ProcessHandle.open(me) != nil)
    }

    @Test func recycledStartTimeIsNotAlive() throws {
        var me = try AgentIdentity.current()
        me.startTime += 1
        #expect(me.liveness() == .recycled)
        // A handle is refused, so nothing can be signalled through it.
        #expect(ProcessHandle.open(me) == nil)
    }

    @Test func otherBootIsNotAlive() throws {
        var me = try AgentIdentity.current()
        me.bootID = "00000000-0000-0000-0000-000000000000"
        #expect(me.liveness() == .otherBoot)
    }

    @Test func exitedChildIsNotAliveAndItsStatusIsKnown() throws {
        let child = try Subprocess.spawn(["sh", "-c", "read x; exit 3"])
        let identity = try AgentIdentity.of(pid: child.pid)
        let handle = try #require(ProcessHandle.open(identity))
        #expect(identity.liveness() == .alive)
        #expect(!handle.hasExited)
        let result = child.collect(stdin: Array("go\n".utf8), timeoutMilliseconds: 5000)
        #expect(result.status == 3)
        #expect(handle.waitForExit(timeoutMilliseconds: 1000))
        #expect(identity.liveness() != .alive)
        // Reaped by collect(): the kernel kept the status for the pidfd (Linux 6.15+).
        if let status = handle.exitStatus(timeoutMilliseconds: 100) {
            #expect(status.code == 3)
            #expect(status.signal == nil)
        }
    }
}

@Suite struct ZombieLeaderTests {
    /// A process whose main thread has exited while another thread runs shows its leader
    /// as a zombie: it is alive (an exec from a non-main thread passes through this state).
    @Test func aZombieLeaderWithLiveThreadsIsAlive() throws {
        let script =
            "import ctypes, threading, time, sys\n"
            + "threading.Thread(target=time.sleep, args=(30,)).start()\n"
            + "sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
            + "ctypes.CDLL(None).pthread_exit(None)\n"
        let child = try Subprocess.spawn(["python3", "-c", script])
        defer {
            kill(child.pid, SIGKILL)
            _ = child.collect(stdin: nil, timeoutMilliseconds: 5000)
        }
        let identity = try AgentIdentity.of(pid: child.pid)
        let deadline = Instant.now + .seconds(10)
        while ProcFS.stat(child.pid)?.state != UInt8(ascii: "Z") {
            guard !deadline.hasPassed else {
                Issue.record("the main thread never exited")
                return
            }
            usleep(5_000)
        }
        #expect(ProcFS.threadCount(child.pid) >= 2)
        #expect(identity.liveness() == .alive)
        kill(child.pid, SIGKILL)
        _ = child.collect(stdin: nil, timeoutMilliseconds: 5000)
        #expect(identity.liveness() != .alive)
    }
}
