import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// A stop or park kept in the reserve (the ledger could not record it) is replayed once the
/// ledger can be written. Replayed late, it must still mean what it meant then: a stopper
/// killed during its grace does not leave its agent running forever, and an intent whose
/// runtime ended since does not act on a later episode or undo a later unpark.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct IntentReplayTests {
    /// A process standing for a stopper: alive until `kill`, then reaped.
    static func stopper() throws -> Subprocess.Child {
        try Subprocess.spawn(["sleep", "1000"])
    }

    @Test func aStopWhoseStopperDiedIsTakenOverWhileOneWhoseStopperRunsIsLeftToIt() throws {
        let s = try Scratch(name: "replay")
        defer { s.cleanup() }
        let (started, json) = try startJSON(s, "R1", command: ["sh", "-c", "trap '' TERM; exec sleep 1000"])
        try #require(started.status == 0, "\(started.stderrText)")
        let runtimeID = try #require(json.at("runtime.id")?.intValue)
        let pid = try #require(json.at("runtime.pid")?.intValue)
        let context = try s.context()
        let reserve = IntentReserve(directory: context.stateDirectory)

        let stopper = try Self.stopper()
        let kept = try reserve.record(
            IntentReserve.Intent(
                kind: .stop, ticket: "R1", runtimeID: Int64(runtimeID), reason: "superseded", actor: "dispatcher", at: WallClock.now(),
                stopperPID: stopper.pid))
        #expect(kept.stopperStartTime != nil, "the stopper's start time is kept with its PID")

        // While its stopper runs, the stop is its own: nothing is recorded for it.
        Ending(context: context).replayIntents()
        #expect(try context.ledger.episodes(ticket: "R1").first?.state == .running)
        #expect(reserve.pending().count == 1)

        _ = kill(stopper.pid, SIGKILL)
        _ = stopper.collect(stdin: nil, timeoutMilliseconds: 5_000)
        Ending(context: context).replayIntents()
        let runtime = try #require(try context.ledger.episodes(ticket: "R1").first)
        #expect(runtime.state == .stopping, "the stop of a dead stopper is recorded, got \(runtime.state)")
        #expect(runtime.isAbandonedStop(), "with no stopper, the service takes it over")
        #expect(reserve.pending().isEmpty, "the intent is cleared once recorded")
        let stopping = try context.ledger.events(after: 0, ticket: "R1", kinds: ["stopping"])
        #expect(stopping.count == 1 && stopping.first?.actor == "dispatcher" && stopping.first?.reason == "superseded", "\(stopping)")

        // Finished as a stop: the agent ignoring SIGTERM is killed, and no death is counted.
        let again = try s.mcrun(["stop", "R1", "--grace", "200ms"])
        #expect(again.status == 0, "\(again.stderrText)")
        #expect(ProcFS.stat(Int32(pid)).map { $0.hasExited } ?? true, "the agent must be gone")
        #expect(try context.ledger.episodes(ticket: "R1").first?.state == .stopped)
        #expect(try context.ledger.ticket(id: "R1")?.deaths == 0)
    }

    @Test func anIntentForARuntimeEndedSinceSparesALaterEpisodesRetryAndALaterUnpark() throws {
        let s = try Scratch(name: "replay2")
        defer { s.cleanup() }
        let (first, firstJSON) = try startJSON(s, "R2", command: ["sleep", "1000"])
        try #require(first.status == 0, "\(first.stderrText)")
        let firstID = Int64(try #require(firstJSON.at("runtime.id")?.intValue))
        #expect(try s.mcrun(["stop", "R2", "--grace", "1s"]).status == 0)
        // A later episode died and is owed a relaunch.
        let (later, laterJSON) = try startJSON(s, "R2", command: ["sleep", "1000"])
        try #require(later.status == 0, "\(later.stderrText)")
        let context = try s.context()
        let laterRuntime = try #require(try context.ledger.episodes(ticket: "R2").first)
        let pid = Int32(try #require(laterJSON.at("runtime.pid")?.intValue))
        _ = kill(pid, SIGKILL)
        try waitUntil("the later episode's agent to be gone") { laterRuntime.identity?.liveness() != .alive }
        _ = try Ending(context: context).record([Ending.Subject(laterRuntime, .death(.exited))])
        let owed = try #require(try context.ledger.pendingRetry(ticket: "R2"), "the later episode's death owes a relaunch")
        #expect(owed.runtimeID == laterRuntime.id)

        // Kept for the first episode, which ended since by a recorded stop.
        let reserve = IntentReserve(directory: context.stateDirectory)
        let at = WallClock.now()
        _ = try reserve.record(IntentReserve.Intent(kind: .stop, ticket: "R2", runtimeID: firstID, reason: "superseded", actor: "op", at: at))
        _ = try reserve.record(IntentReserve.Intent(kind: .park, ticket: "R2", runtimeID: firstID, reason: "night", actor: "op", at: at))
        Ending(context: context).replayIntents()
        #expect(reserve.pending().isEmpty)
        #expect(try context.ledger.pendingRetry(ticket: "R2")?.runtimeID == laterRuntime.id, "the later episode's relaunch is still owed")
        #expect(try context.ledger.ticket(id: "R2")?.parked == true, "a park not lifted since holds the ticket")

        // Unparked after the intent was kept: replayed later, it does not park the ticket again.
        let unpark = try s.mcrun(["unpark", "R2"])
        #expect(unpark.status == 0, "\(unpark.stderrText)")
        _ = try reserve.record(IntentReserve.Intent(kind: .park, ticket: "R2", runtimeID: firstID, reason: "night", actor: "op", at: at))
        Ending(context: context).replayIntents()
        #expect(reserve.pending().isEmpty)
        #expect(try context.ledger.ticket(id: "R2")?.parked == false, "the unpark after the intent stands")
    }
}
