import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

@Suite(.serialized, .timeLimit(.minutes(2)))
struct CapacityTests {
    @Test func capacityIsEnforcedAtAdmission() throws {
        let s = try Scratch(name: "cap")
        defer { s.cleanup() }
        #expect(try s.mcrun(["config", "capacity", "-1"]).status == 2)
        #expect(try s.mcrun(["config", "capacity", "lots"]).status == 2)
        #expect(try s.mcrun(["config", "capacity", "2"]).status == 0)
        #expect(try s.mcrunJSON(["config", "capacity"]).json.at("settings.capacity")?.stringValue == "2")
        #expect(try s.mcrun(["start", "C1", "--", "sleep", "1000"]).status == 0)

        // Concurrent starts for distinct tickets: the count is taken in the admitting
        // transaction, so exactly one more gets the last slot.
        var children: [Subprocess.Child] = []
        for i in 0..<6 { children.append(try s.spawnMcrun(["start", "C\(i + 2)", "--json", "--", "sleep", "1000"])) }
        let results = children.map { $0.collect(stdin: nil, timeoutMilliseconds: 60_000) }
        #expect(results.filter { $0.status == 0 }.count == 1, "\(results.map(\.status))")
        let refused = results.filter { $0.status == 5 }
        #expect(refused.count == 5)
        for r in refused {
            #expect(r.errorJSON?.at("reason")?.stringValue == "capacity")
            #expect(!r.stderrText.contains("already"))
        }
        #expect(try sessions(s).count == 2)

        #expect(try s.mcrun(["config", "capacity", "none"]).status == 0)
        #expect(try s.mcrun(["start", "C9", "--", "sleep", "1000"]).status == 0)
    }

    @Test func garbageLedgerFailsClosed() throws {
        let s = try Scratch(name: "capgarb")
        defer { s.cleanup() }
        try FileManager.default.createDirectory(atPath: s.stateDir, withIntermediateDirectories: true)
        var garbage = [UInt8](repeating: 0, count: 8192)
        for i in garbage.indices { garbage[i] = UInt8(truncatingIfNeeded: i &* 131 &+ 7) }
        #expect(FileManager.default.createFile(atPath: s.stateDir + "/ledger.sqlite", contents: Data(garbage)))
        try expectCapacityUnknown(s)
    }

    @Test func ledgerThatIsADirectoryFailsClosed() throws {
        let s = try Scratch(name: "capdir")
        defer { s.cleanup() }
        try FileManager.default.createDirectory(atPath: s.stateDir + "/ledger.sqlite", withIntermediateDirectories: true)
        try expectCapacityUnknown(s)
    }

    @Test func exclusivelyLockedLedgerFailsClosedWithinTheBusyTimeout() throws {
        let s = try Scratch(name: "caplock")
        defer { s.cleanup() }
        s.environment["MCRUN_BUSY_TIMEOUT"] = "1"
        // A command that writes creates the ledger (a read creates nothing).
        #expect(try s.mcrun(["config", "capacity", "none"]).status == 0)
        _ = try s.holdLedgerLock(exclusive: true)
        try expectCapacityUnknown(s, within: 1 + 3)
    }

    func expectCapacityUnknown(_ s: Scratch, within seconds: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let began = Instant.now
        let (result, json) = try startJSON(s, "F1", command: ["sleep", "1000"])
        let took = (Instant.now - began).seconds
        #expect(result.status == 5, "\(result.stderrText)", sourceLocation: sourceLocation)
        #expect(json.at("reason")?.stringValue == "capacity_unknown", sourceLocation: sourceLocation)
        #expect(took < seconds, "start took \(took)s", sourceLocation: sourceLocation)
        #expect(try sessions(s).isEmpty, sourceLocation: sourceLocation)
        #expect(Scratch.processes(s).isEmpty, sourceLocation: sourceLocation)
    }
}

extension Scratch {
    /// Processes started on behalf of this scratch (agents carry its state directory).
    static func processes(_ s: Scratch) -> [Int32] {
        let marker = Array("MCRUN_STATE_DIR=\(s.stateDir)".utf8)
        return ProcFS.allPIDs().filter { pid in
            guard pid != getpid(), let stat = ProcFS.stat(pid), !stat.hasExited else { return false }
            return ProcFS.environ(pid)?.contains(where: { $0 == marker }) ?? false
        }
    }
}
