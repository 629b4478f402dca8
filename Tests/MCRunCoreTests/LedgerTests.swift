import Foundation
import MCRunTestSupport
import Testing

@testable import MCRunCore

@Suite struct LedgerTests {
    /// A row of `runtimes` as SQL, for staging what the launch path would never write.
    func insertRuntime(_ ticket: String, episode: Int, state: RuntimeState) -> String {
        """
        INSERT INTO runtimes(ticket, episode, nonce, state, session_name, argv, cwd, env, created_at, updated_at)
        VALUES ('\(ticket)', \(episode), '\(MCRunContext.randomNonce())', '\(state.rawValue)', '\(ticket)@\(episode)', '["sleep","1"]', '/', '{}', 0, 0);
        """
    }

    @Test func theIndexAllowsOneLiveRuntimePerTicket() throws {
        let scratch = try Scratch(name: "ledger")
        defer { scratch.cleanup() }
        try scratch.editLedger(
            "INSERT INTO tickets(id, created_at, updated_at) VALUES ('T1', 0, 0);"
                + insertRuntime("T1", episode: 1, state: .running) + insertRuntime("T1", episode: 2, state: .dead))
        // A second live row is refused by the database itself, whatever the code checked.
        let refused = #expect(throws: ScratchError.self) {
            try scratch.editLedger(insertRuntime("T1", episode: 3, state: .launching))
        }
        #expect(refused?.description.contains("UNIQUE constraint failed: runtimes.ticket") == true, "\(refused?.description ?? "")")
        #expect(try scratch.context().ledger.episodes(ticket: "T1").map(\.episode) == [2, 1])
    }

    @Test func aTransitionIsACompareAndSetWithItsEvent() throws {
        let scratch = try Scratch(name: "ledger")
        defer { scratch.cleanup() }
        let context = try scratch.context()
        let inserted = try scratch.editLedger(
            "INSERT INTO tickets(id, created_at, updated_at) VALUES ('T2', 0, 0);" + insertRuntime("T2", episode: 1, state: .launching)
                + "SELECT last_insert_rowid();")
        let id = try #require(Int64(inserted.trimmingCharacters(in: .whitespacesAndNewlines)))
        let running = try context.ledger.apply(.launched, to: id, actor: "test")
        #expect(running.state == .running)
        // From the wrong state: refused, and neither the row nor the events change.
        let before = try context.ledger.eventCount()
        let refused = try context.ledger.applyIfCurrent(.launched, to: id, actor: "test")
        #expect(refused.applied == false)
        #expect(refused.runtime.state == .running)
        let after = try context.ledger.eventCount()
        #expect(before == after)
        let events = try context.ledger.events(after: 0)
        #expect(events.last?.kind == "start")
        #expect(events.last?.fromState == "launching")
        #expect(events.last?.toState == "running")
    }

    /// Opening another handle on the ledger must leave the locks of those already open in the
    /// process alone: without them, another process closing its connection takes itself for
    /// the last one and deletes the WAL under them.
    @Test func anotherHandleInTheSameProcessKeepsTheFirstUsable() throws {
        let scratch = try Scratch(name: "ledger")
        defer { scratch.cleanup() }
        let first = try scratch.context()
        _ = try KillSwitch.set(true, reason: "first", ledger: first.ledger, actor: "test")
        _ = try scratch.context()
        // sqlite3 writes, then closes its connection: with the locks gone it would checkpoint
        // and delete the WAL, and the first handle's next write would go to the deleted file.
        try scratch.stageEvent("staged", ticket: "T3")
        _ = try KillSwitch.set(false, reason: "second", ledger: first.ledger, actor: "test")
        #expect(try first.ledger.events(after: 0).map(\.kind) == ["killswitch", "staged", "killswitch"])
        #expect(try scratch.context().ledger.killSwitchState().on == false)
    }

    /// Written only by the owner, readable by its group (the operators), nothing for others.
    @Test func filesAreTheOwnersAndReadableByItsGroupOnly() throws {
        let scratch = try Scratch(name: "ledger")
        defer { scratch.cleanup() }
        _ = try scratch.context()
        for path in [scratch.stateDir, scratch.stateDir + "/tmux", scratch.stateDir + "/logs", scratch.stateDir + "/ledger.sqlite"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            let mode = (attributes[.posixPermissions] as? Int) ?? 0o777
            #expect(mode & 0o027 == 0, "\(path) is mode \(String(mode, radix: 8))")
            #expect(mode & 0o040 != 0, "\(path) is mode \(String(mode, radix: 8)), not readable by its group")
        }
    }
}
