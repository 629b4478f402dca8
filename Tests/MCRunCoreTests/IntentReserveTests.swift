import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// The reserve kept for stops, parks and the kill switch the ledger could not record: made
/// in full when the state directory is prepared, slots taken and cleared in place.
@Suite struct IntentReserveTests {
    static func prepared() throws -> (Scratch, IntentReserve) {
        let s = try Scratch(name: "reserve")
        let directory = StateDirectory(path: s.stateDir)
        try directory.prepare()
        return (s, IntentReserve(directory: directory))
    }

    @Test func theFileIsMadeInFullAndItsSlotsRoundTrip() throws {
        let (s, reserve) = try Self.prepared()
        defer { s.cleanup() }
        var info = stat()
        #expect(stat(reserve.path, &info) == 0)
        #expect(info.st_size == 16_384 && info.st_blocks * 512 >= 16_384, "size \(info.st_size), blocks \(info.st_blocks): not written in full")
        #expect(info.st_mode & 0o077 == 0, "readable by others")
        #expect(reserve.pending().isEmpty)

        var intent = IntentReserve.Intent(kind: .park, ticket: "T-1", runtimeID: 7, reason: "why\twith\ttabs\nand a newline", actor: "me", at: 12.5)
        intent = try reserve.record(intent)
        let read = try #require(reserve.pending().first)
        #expect(read.kind == .park && read.ticket == "T-1" && read.runtimeID == 7 && read.at == 12.5 && read.actor == "me")
        #expect(read.reason == "why with tabs and a newline")
        #expect(reserve.parkPending(ticket: "T-1") != nil && reserve.parkPending(ticket: "T-2") == nil)
        #expect(reserve.killSwitch() == nil)
        reserve.clear(intent)
        #expect(reserve.pending().isEmpty)
        #expect(stat(reserve.path, &info) == 0 && info.st_size == 16_384, "clearing must not change the file's size")
    }

    @Test func slotsRunOutAndTheKillSwitchKeepsItsOwn() throws {
        let (s, reserve) = try Self.prepared()
        defer { s.cleanup() }
        var kept: [IntentReserve.Intent] = []
        for i in 1..<32 {
            kept.append(try reserve.record(.init(kind: .stop, ticket: "T\(i)", runtimeID: Int64(i), reason: "r", actor: "a", at: Double(i))))
        }
        #expect(throws: IntentReserve.ReserveError.self) {
            try reserve.record(.init(kind: .stop, ticket: "T32", runtimeID: 32, reason: "r", actor: "a", at: 32))
        }
        _ = try reserve.record(.init(kind: .killswitch, ticket: "", runtimeID: nil, reason: "incident", actor: "a", at: 1))
        #expect(reserve.killSwitch()?.reason == "incident")
        // A slot cleared and taken again is not cleared by the first intent's owner.
        reserve.clear(kept[0])
        let reused = try reserve.record(.init(kind: .stop, ticket: "T40", runtimeID: 40, reason: "r", actor: "a", at: 40))
        reserve.clear(kept[0])
        #expect(reserve.pending().contains(reused))
        #expect(reserve.pending().count == 32)
    }

    /// Admission reads the reserve: a kill switch or park kept there refuses a start before
    /// the ledger has recorded it.
    @Test func aKeptKillSwitchOrParkRefusesAStartBeforeTheLedgerHasIt() throws {
        let s = try Scratch(name: "reserveadmit")
        defer { s.cleanup() }
        let context = try s.context()
        let reserve = IntentReserve(directory: context.stateDirectory)
        let request = LaunchRequest(ticket: try TicketID(validating: "A1"), argv: ["sleep", "1000"], cwd: "/", env: [:], owner: nil)
        func refusal() -> String? {
            let started: Result<Runtime, MCRunError> = Result { () throws(MCRunError) in try Launcher(context: context).start(request) }
            guard case .failure(let error) = started else { return nil }
            return error.reason
        }

        let held = try reserve.record(.init(kind: .killswitch, ticket: "", runtimeID: nil, reason: "incident", actor: "t", at: 1))
        #expect(refusal() == "killswitch")
        let state = try context.ledger.killSwitchState()
        #expect(state.on && state.unrecorded && state.reason == "incident")
        reserve.clear(held)

        _ = try reserve.record(.init(kind: .park, ticket: "A1", runtimeID: nil, reason: "review", actor: "t", at: 2))
        #expect(refusal() == "ticket_parked")
        #expect(try context.ledger.episodes(ticket: "A1").isEmpty)
    }
}
