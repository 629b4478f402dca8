import Glibc
import Logging
import MCRunCore
import MCRunService
import MCRunTestSupport
import ServiceLifecycle
import Synchronization
import Testing

/// The service's one loop helper and its child work: woken by a nudge or its deadline,
/// stopped by a graceful shutdown or a cancellation, and never returning while its thread
/// (or, up to the bound, a piece of child work) still runs.
@Suite(.timeLimit(.minutes(1)))
struct DedicatedLoopTests {
    /// A step that blocks until the test lets it go: a blocking read on a pipe.
    final class Gate: Sendable {
        let fds: (read: Int32, write: Int32)

        init() throws {
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { throw ScratchError("pipe: \(String(cString: strerror(errno)))") }
            self.fds = (fds[0], fds[1])
        }

        deinit {
            close(fds.read)
            close(fds.write)
        }

        func pass() {
            var byte: UInt8 = 0
            _ = read(fds.read, &byte, 1)
        }

        func open() {
            var byte: UInt8 = 1
            _ = write(fds.write, &byte, 1)
        }
    }

    @Test func aNudgeRunsTheNextStepBeforeItsDeadline() async throws {
        let loop = try DedicatedLoop(name: "mcrun-test-nudge")
        let steps = Counter()
        let task = Task {
            await loop.run {
                steps.add()
                return nil
            }
        }
        try await asyncWaitUntil("the first step") { steps.value == 1 }
        try await asyncHoldsFalse("a second step without a nudge or a deadline", for: 0.3) { steps.value > 1 }
        loop.nudge()
        try await asyncWaitUntil("the step after the nudge", timeout: 5) { steps.value == 2 }
        loop.stop()
        await task.value
    }

    @Test func theNextStepRunsAtTheDeadlineTheStepReturned() async throws {
        let loop = try DedicatedLoop(name: "mcrun-test-deadline")
        let times = Times()
        let task = Task {
            await loop.run {
                times.record()
                return .after(milliseconds: 300)
            }
        }
        try await asyncWaitUntil("three steps", timeout: 10) { times.all.count >= 3 }
        loop.stop()
        await task.value
        let seen = times.all
        for (earlier, later) in zip(seen, seen.dropFirst()) {
            #expect(later - earlier >= .milliseconds(300), "a step ran \((later - earlier).milliseconds) ms after the previous one, before its deadline")
        }
    }

    @Test func runReturnsOnlyAfterTheThreadsLastStep() async throws {
        let loop = try DedicatedLoop(name: "mcrun-test-join")
        let gate = try Gate()
        let inStep = Flag()
        let stepEnded = Flag()
        let returned = Flag()
        let endedBeforeReturn = Flag()
        let task = Task {
            await loop.run {
                inStep.set()
                gate.pass()
                stepEnded.set()
                return nil
            }
            if stepEnded.isSet { endedBeforeReturn.set() }
            returned.set()
        }
        try await asyncWaitUntil("the step under way") { inStep.isSet }
        loop.stop()
        try await asyncHoldsFalse("run() returning while its thread is in a step", for: 0.5) { returned.isSet }
        gate.open()
        await task.value
        #expect(endedBeforeReturn.isSet, "run() returned before the step ended")
    }

    @Test func cancellationStopsTheLoop() async throws {
        let loop = try DedicatedLoop(name: "mcrun-test-cancel")
        let steps = Counter()
        let task = Task {
            await loop.run {
                steps.add()
                return .after(milliseconds: 60_000)
            }
        }
        try await asyncWaitUntil("the first step") { steps.value == 1 }
        task.cancel()
        await task.value
        #expect(loop.isStopping)
        let after = steps.value
        try await asyncHoldsFalse("a step after run() returned", for: 0.2) { steps.value != after }
    }

    @Test func aGracefulShutdownOfTheGroupStopsTheLoop() async throws {
        let service = LoopService(loop: try DedicatedLoop(name: "mcrun-test-graceful"))
        let group = ServiceGroup(services: [service], logger: Logger(label: "test"))
        let task = Task { try await group.run() }
        try await asyncWaitUntil("the first step") { service.steps.value >= 1 }
        await group.triggerGracefulShutdown()
        try await task.value
        #expect(service.loop.isStopping)
    }

    final class LoopService: Service, Sendable {
        let loop: DedicatedLoop
        let steps = Counter()

        init(loop: DedicatedLoop) { self.loop = loop }

        func run() async throws {
            await loop.run { [steps] in
                steps.add()
                return nil
            }
        }
    }

    // MARK: Child work

    @Test func childWorkIsJoinedBeforeRunReturns() async throws {
        let work = ChildWork(logger: Logger(label: "test"))
        let gate = try Gate()
        let finished = Flag()
        let returned = Flag()
        let task = Task {
            await work.run(joinBound: .seconds(30))
            returned.set()
        }
        #expect(
            work.start("mcrun-test-piece") {
                gate.pass()
                finished.set()
            })
        work.close()
        try await asyncHoldsFalse("run() returning while a piece runs", for: 0.5) { returned.isSet }
        #expect(work.running == ["mcrun-test-piece"])
        gate.open()
        await task.value
        #expect(finished.isSet)
        #expect(work.running.isEmpty)
        #expect(!work.start("mcrun-test-late") {}, "no piece starts once the work is closed")
    }

    @Test func pastTheBoundThePiecesStillRunningAreNamedAndNotWaitedFor() async throws {
        let log = CapturedLog()
        let work = ChildWork(logger: Logger(label: "test") { _ in CapturingHandler(sink: log) })
        let gate = try Gate()
        defer { gate.open() }
        let task = Task { await work.run(joinBound: .milliseconds(300)) }
        #expect(work.start("mcrun-test-stuck") { gate.pass() })
        work.close()
        let began = Instant.now
        await task.value
        #expect(Instant.now - began >= .milliseconds(300))
        #expect(work.running == ["mcrun-test-stuck"], "the piece still runs: run() returned at the bound")
        let warned = log.lines.withLock { $0 }
        #expect(warned.contains { $0.contains("mcrun-test-stuck") && $0.contains("not waited for") }, "log: \(warned)")
    }
}

final class CapturedLog: Sendable {
    let lines = Mutex<[String]>([])
}

struct CapturingHandler: LogHandler {
    let sink: CapturedLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(
        level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt
    ) {
        sink.lines.withLock { $0.append("\(message)") }
    }
}

final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    func add() { count.add(1, ordering: .sequentiallyConsistent) }
    var value: Int { count.load(ordering: .sequentiallyConsistent) }
}

final class Flag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .sequentiallyConsistent) }
    var isSet: Bool { flag.load(ordering: .sequentiallyConsistent) }
}

final class Times: Sendable {
    private let times = Mutex<[Instant]>([])
    func record() { times.withLock { $0.append(.now) } }
    var all: [Instant] { times.withLock { $0 } }
}
