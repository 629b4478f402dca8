public import Logging
import MCRunCore
import Synchronization

/// Blocking work a loop hands off (a relaunch waiting for its shim, a stop taken over, a
/// teardown). Each piece runs on a thread of its own, awaited by a child task of the
/// service that owns it, so that service's `run` does not return while a piece is under
/// way. At shutdown the pieces still running are awaited up to a bound; past it they are
/// named in the log and left to the process's exit (the ledger marks what is owed).
///
/// Limits on how many run at once belong to the loop that starts them: it knows what is
/// in flight and holds the rest back, so nothing here blocks.
public final class ChildWork: Sendable {
    private struct Piece: Sendable {
        var id: Int
        var name: String
        var niceness: Int32
        var body: @Sendable () -> Void
    }

    private struct State {
        var nextID = 0
        var running: [Int: String] = [:]
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var idle: CheckedContinuation<Void, Never>?
        var abandoned = false
    }

    private let pieces: AsyncStream<Piece>
    private let intake: AsyncStream<Piece>.Continuation
    private let state = Mutex(State())
    private let logger: Logger

    public init(logger: Logger) {
        (pieces, intake) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
        self.logger = logger
    }

    /// Any thread: runs `body` as a child of `run`. False, and `body` never runs, once the
    /// work is closed.
    @discardableResult
    public func start(_ name: String, niceness: Int32 = 0, _ body: @escaping @Sendable () -> Void) -> Bool {
        let id = state.withLock { s -> Int? in
            guard !s.abandoned else { return nil }
            s.nextID += 1
            s.running[s.nextID] = name
            return s.nextID
        }
        guard let id else { return false }
        if case .terminated = intake.yield(Piece(id: id, name: name, niceness: niceness, body: body)) {
            ended(id)
            return false
        }
        return true
    }

    /// No more pieces: `run` joins those started and returns.
    public func close() { intake.finish() }

    /// The names of the pieces under way.
    public var running: [String] { state.withLock { $0.running.values.sorted() } }

    /// Runs every piece started, each awaited by a child task, until `close()`; then waits
    /// for those still running, at most `joinBound`.
    public func run(joinBound: Duration) async {
        await withDiscardingTaskGroup { group in
            for await piece in pieces {
                group.addTask { await self.run(piece) }
            }
            group.addTask {
                try? await Task.sleep(for: joinBound)
                self.abandon(after: joinBound)
            }
            await allEnded()
            group.cancelAll()
        }
    }

    private func run(_ piece: Piece) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let abandoned = state.withLock { s -> Bool in
                if s.abandoned { return true }
                s.waiters[piece.id] = done
                return false
            }
            guard !abandoned else {
                ended(piece.id)
                done.resume()
                return
            }
            DedicatedLoop.spawn(piece.name, niceness: piece.niceness) {
                piece.body()
                self.ended(piece.id)
            }
        }
    }

    private func ended(_ id: Int) {
        let (waiter, idle) = state.withLock { s -> (CheckedContinuation<Void, Never>?, CheckedContinuation<Void, Never>?) in
            s.running[id] = nil
            let waiter = s.waiters.removeValue(forKey: id)
            guard s.running.isEmpty else { return (waiter, nil) }
            defer { s.idle = nil }
            return (waiter, s.idle)
        }
        waiter?.resume()
        idle?.resume()
    }

    private func allEnded() async {
        await withCheckedContinuation { (idle: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.running.isEmpty || s.abandoned { return true }
                s.idle = idle
                return false
            }
            if now { idle.resume() }
        }
    }

    /// The bound passed (or the service was cancelled): stops waiting for what still runs.
    private func abandon(after bound: Duration) {
        let (left, waiters, idle) = state.withLock { s in
            s.abandoned = true
            defer {
                s.waiters = [:]
                s.idle = nil
            }
            return (s.running.values.sorted(), Array(s.waiters.values), s.idle)
        }
        if !left.isEmpty {
            logger.warning(
                "\(left.count) piece\(left.count == 1 ? "" : "s") of work still running \(bound.seconds)s into the shutdown, not waited for: \(left.joined(separator: ", ")); the next serve finishes what the ledger marks owed",
                metadata: ["event": "shutdown_bound"])
        }
        for waiter in waiters { waiter.resume() }
        idle?.resume()
    }
}
