import Foundation
import GRDB
@testable import MCRunCore
import MCRunTestSupport
import Testing

@Suite struct LedgerTests {
    func runtime(_ ticket: String, episode: Int, state: RuntimeState) -> Runtime {
        Runtime(
            id: nil, ticket: ticket, episode: episode, nonce: MCRunContext.randomNonce(), owner: nil, state: state,
            sessionName: "\(ticket)@\(episode)", argv: ["sleep", "1"], cwd: "/", env: [:], createdAt: 0, updatedAt: 0, busy: false)
    }

    @Test func theIndexAllowsOneLiveRuntimePerTicket() throws {
        let scratch = try Scratch(name: "ledger")
        defer { scratch.cleanup() }
        let context = try scratch.context()
        try context.ledger.write { db in
            _ = try Ledger.ensureTicket(db, id: "T1", now: 0)
            var first = runtime("T1", episode: 1, state: .running)
            try first.insert(db)
            var ended = runtime("T1", episode: 2, state: .dead)
            try ended.insert(db)
        }
        // A second live row is refused by the database itself, whatever the code checked.
        #expect(throws: DatabaseError.self) {
            try context.ledger.database.write { db in
                var second = runtime("T1", episode: 3, state: .launching)
                try second.insert(db)
            }
        }
    }

    @Test func aTransitionIsACompareAndSetWithItsEvent() throws {
        let scratch = try Scratch(name: "ledger")
        defer { scratch.cleanup() }
        let context = try scratch.context()
        let id = try context.ledger.write { db -> Int64 in
            _ = try Ledger.ensureTicket(db, id: "T2", now: 0)
            var r = runtime("T2", episode: 1, state: .launching)
            try r.insert(db)
            return r.id!
        }
        let running = try context.ledger.apply(.launched, to: id, actor: "test")
        #expect(running.state == .running)
        // From the wrong state: refused, and neither the row nor the events change.
        let before = try context.ledger.read { db in try Event.fetchCount(db) }
        let refused = try context.ledger.applyIfCurrent(.launched, to: id, actor: "test")
        #expect(refused.applied == false)
        #expect(refused.runtime.state == .running)
        let after = try context.ledger.read { db in try Event.fetchCount(db) }
        #expect(before == after)
        let events = try context.ledger.read { db in try Event.order(Event.Columns.id).fetchAll(db) }
        #expect(events.last?.kind == "start")
        #expect(events.last?.fromState == "launching")
        #expect(events.last?.toState == "running")
    }

    @Test func filesArePrivate() throws {
        let scratch = try Scratch(name: "ledger")
        defer { scratch.cleanup() }
        _ = try scratch.context()
        for path in [scratch.stateDir, scratch.stateDir + "/tmux", scratch.stateDir + "/ledger.sqlite"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            let mode = (attributes[.posixPermissions] as? Int) ?? 0o777
            #expect(mode & 0o077 == 0, "\(path) is mode \(String(mode, radix: 8))")
        }
    }
}
