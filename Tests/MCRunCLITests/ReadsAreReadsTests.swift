import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// `ps`, `show`, `logs`, `events` and `harvest` only read: no write lock, no migration, no
/// file created. They answer while a writer holds the ledger, on a ledger nothing may write
/// (immutable, so even root cannot) and on a full disk.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ReadsAreReadsTests {
    static let reads: [[String]] = [["ps", "--all"], ["show", "R1"], ["logs", "R1"], ["events"], ["harvest", "R1"]]

    /// A ticket with an ended episode whose pane said "hello", and no mcrun process left.
    static func prepare(_ s: Scratch) throws {
        let (result, _) = try startJSON(s, "R1", command: ["sh", "-c", "echo hello; exec sleep 1000"])
        try #require(result.status == 0, "\(result.stderrText)")
        try waitUntil("the pane log has the agent's output") { try s.mcrun(["logs", "R1"]).stdoutText.contains("hello") }
        #expect(try s.mcrun(["stop", "R1", "--grace", "1s"]).status == 0)
        #expect(try s.mcrun(["config", "capacity", "7"]).status == 0)
    }

    static func expectReadsAnswer(_ s: Scratch, within seconds: Double, _ what: String) throws {
        for args in reads {
            let began = Instant.now
            let result = try s.mcrun(args)
            let took = (Instant.now - began).seconds
            #expect(result.status == 0, "\(what): mcrun \(args) exited \(result.status): \(result.stderrText)")
            #expect(took < seconds, "\(what): mcrun \(args) took \(took)s")
            #expect(result.stdoutText.contains(args.first == "logs" ? "hello" : "R1"), "\(what): mcrun \(args) printed \(result.stdoutText)")
        }
    }

    @Test func readsAnswerWhileAWriterHoldsTheLedger() throws {
        let s = try Scratch(name: "rdlock")
        defer { s.cleanup() }
        try Self.prepare(s)
        // A reader that waited for the lock would wait this long, then fail.
        s.environment["MCRUN_BUSY_TIMEOUT"] = "60"
        _ = try s.holdLedgerLock()
        try Self.expectReadsAnswer(s, within: 20, "write lock held")
        #expect(try s.ledgerIsLocked(), "the writer lost its lock: the reads did not run beside it")
        #expect(!(try s.mcrun(["ps", "--all"]).stdoutText.contains("held")))
    }

    @Test func readsAnswerOnALedgerNothingMayWrite() throws {
        let s = try Scratch(name: "rdonly")
        defer { s.cleanup() }
        try Self.prepare(s)
        let ledger = s.stateDir + "/ledger.sqlite"
        // The last writer leaves the log in place for readers of the group, but empty.
        let wal = (try? FileManager.default.attributesOfItem(atPath: ledger + "-wal"))?[.size] as? Int ?? 0
        #expect(wal == 0, "a write-ahead log of \(wal) bytes is left over")
        let frozen = [ledger, s.stateDir]
        s.onCleanup { _ = try? Subprocess.run(["chattr", "-i"] + frozen) }
        let chattr = try Subprocess.run(["chattr", "+i"] + frozen)
        try #require(chattr.succeeded, "chattr: \(chattr.stderrText)")
        // Even root cannot write now.
        #expect(open(s.stateDir + "/probe", O_WRONLY | O_CREAT, 0o600) < 0)
        try Self.expectReadsAnswer(s, within: 20, "immutable ledger")
        #expect(try s.mcrun(["config", "capacity", "8"]).status == 1)
    }

    @Test func readsAnswerOnAFullDisk() throws {
        let s = try Scratch(name: "rdfull")
        defer { s.cleanup() }
        try s.mountSmallStateDisk()
        try Self.prepare(s)
        let fill = try Subprocess.run(["dd", "if=/dev/zero", "of=\(s.stateDir)/fill", "bs=4096"], timeoutMilliseconds: 30_000)
        #expect(!fill.succeeded && fill.stderrText.contains("No space left"), "dd: \(fill.stderrText)")
        try Self.expectReadsAnswer(s, within: 20, "full disk")
    }

    /// A ledger an earlier mcrun wrote (here: one migration behind) is not migrated by a
    /// read; the next command that writes migrates it.
    @Test func aReadDoesNotMigrate() throws {
        let s = try Scratch(name: "rdmigr")
        defer { s.cleanup() }
        try Self.prepare(s)
        let ledger = s.stateDir + "/ledger.sqlite"
        func tables() throws -> String {
            try Subprocess.run([
                "sqlite3", ledger, "SELECT group_concat(name) FROM sqlite_master WHERE name = 'refusals'; SELECT count(*) FROM grdb_migrations",
            ]).stdoutText
        }
        let rollBack = try Subprocess.run(["sqlite3", ledger, "DROP TABLE refusals; DELETE FROM grdb_migrations WHERE identifier = 'v5-refusals'"])
        try #require(rollBack.succeeded, "\(rollBack.stderrText)")
        let older = try tables()
        let (ps, json) = try s.mcrunJSON(["ps"])
        #expect(ps.status == 1, "\(ps.stderrText)")
        #expect(json.at("reason")?.stringValue == "ledger_outdated")
        #expect(try tables() == older, "the read changed the schema")
        #expect(try s.mcrun(["config"]).status == 0)
        #expect(try s.mcrun(["show", "R1"]).status == 0)
    }
}
