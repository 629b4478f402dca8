import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Synchronization
import Testing

@Suite(.serialized)
struct SubprocessTests {
    final class Outcome: Sendable {
        let result = Mutex<Subprocess.Result?>(nil)
    }

    /// Collects on another thread: a collect that never returns fails the test, not hangs it.
    func collectInBackground(_ child: Subprocess.Child, timeoutMilliseconds: Int) -> Outcome {
        let outcome = Outcome()
        Thread {
            let r = child.collect(stdin: nil, timeoutMilliseconds: timeoutMilliseconds)
            outcome.result.withLock { $0 = r }
        }.start()
        return outcome
    }

    func pid(in path: String) throws -> Int32 {
        try waitUntil("\(path) is written", timeout: 5) {
            ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").hasSuffix("\n")
        }
        return try #require(Int32(try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    @Test(arguments: [true, false])
    func aChildThatClosesItsOutputIsStillKilledAtTheDeadline(newSession: Bool) throws {
        let s = try Scratch(name: "subeof")
        defer { s.cleanup() }
        // Its scratch marker in the environment: cleanup kills whatever a failed run left.
        let child = try Subprocess.spawn(
            ["/bin/sh", "-c", "exec >/dev/null 2>&1 </dev/null; sleep 600 & echo $! > \"$1\"; exec sleep 600", "sh", s.path("background")],
            environment: s.processEnvironment, newSession: newSession)
        let background = try pid(in: s.path("background"))
        let started = Instant.now
        let outcome = collectInBackground(child, timeoutMilliseconds: 300)
        try waitUntil("collect returns after the deadline", timeout: 10) { outcome.result.withLock { $0 != nil } }
        let result = try #require(outcome.result.withLock { $0 })
        #expect(Instant.now - started >= .milliseconds(300))
        #expect(result.timedOut)
        #expect(result.signal == SIGKILL)
        #expect(!result.succeeded)
        // Reaped, not left a zombie.
        #expect(ProcFS.stat(child.pid) == nil)
        if newSession {
            // Its own process group: everything it started dies with it.
            try waitUntil("the child's background process was killed with its group", timeout: 5) {
                ProcFS.stat(background).map { $0.hasExited } ?? true
            }
        } else {
            kill(background, SIGKILL)
        }
    }

    @Test func aChildThatClosesItsOutputAndExitsBeforeTheDeadlineReportsItsStatus() throws {
        let result = try Subprocess.run(["/bin/sh", "-c", "echo hi; exec >/dev/null 2>&1; sleep 0.2; exit 7"], timeoutMilliseconds: 10_000)
        #expect(!result.timedOut)
        #expect(result.status == 7)
        #expect(result.signal == nil)
        #expect(result.stdoutText == "hi\n")
    }

    @Test func aChildThatOutlivesTheDeadlineWithItsOutputOpenIsKilled() throws {
        let started = Instant.now
        let result = try Subprocess.run(["/bin/sh", "-c", "exec sleep 600"], timeoutMilliseconds: 200, newSession: true)
        #expect(Instant.now - started < .seconds(5))
        #expect(result.timedOut)
        #expect(result.signal == SIGKILL)
    }
}
