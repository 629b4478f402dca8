import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// A state directory that has been used and has lost its ledger is refused by every command
/// (exit 5, ledger_missing), never given a fresh empty ledger that would forget parked
/// tickets, the kill switch and the capacity; `--recreate-ledger` is the deliberate way on.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct LedgerLossTests {
    static let commands: [[String]] = [
        ["ps"], ["show", "P1"], ["events"], ["logs", "P1"], ["harvest", "P1"], ["start", "N1", "--", "sleep", "1000"],
        ["send", "P1", "hi"], ["stop", "P1"], ["park", "P2"], ["unpark", "P1"], ["killswitch", "status"], ["killswitch", "off"],
        ["config"], ["config", "capacity", "9"], ["reset", "P1"],
    ]

    /// A directory in use: a parked ticket with an ended episode (so pane logs), the kill switch
    /// on, a capacity.
    static func used(_ s: Scratch) throws {
        let (result, _) = try startJSON(s, "P1", command: ["sleep", "1000"])
        try #require(result.status == 0, "\(result.stderrText)")
        #expect(try s.mcrun(["park", "P1", "--grace", "1s"]).status == 0)
        #expect(try s.mcrun(["config", "capacity", "3"]).status == 0)
        #expect(try s.mcrun(["killswitch", "on", "--reason", "incident"]).status == 0)
    }

    static func expectRefused(_ s: Scratch, _ what: String) throws {
        let ledger = s.stateDir + "/ledger.sqlite"
        let sizeBefore = (try? FileManager.default.attributesOfItem(atPath: ledger)[.size] as? Int) ?? nil
        for args in commands {
            var withJSON = args
            withJSON.insert("--json", at: args.firstIndex(of: "--") ?? args.endIndex)
            let result = try s.mcrun(withJSON)
            #expect(result.status == 5, "\(what): mcrun \(args) exited \(result.status): \(result.stderrText)")
            #expect(result.errorJSON?.at("reason")?.stringValue == "ledger_missing", "\(what): mcrun \(args): \(result.stdoutText)")
            #expect(result.stderrText.split(separator: "\n").count == 1)
            #expect(result.stderrText.contains("--recreate-ledger"), "\(what): \(result.stderrText)")
            let sizeAfter = (try? FileManager.default.attributesOfItem(atPath: ledger)[.size] as? Int) ?? nil
            #expect(sizeAfter == sizeBefore, "\(what): mcrun \(args) left the ledger at \(sizeAfter.map(String.init) ?? "missing")")
        }
        #expect(try sessions(s).isEmpty, "\(what): something was started")
    }

    @Test func aVanishedLedgerIsRefusedUntilRecreatedOnPurpose() throws {
        let s = try Scratch(name: "lost")
        defer { s.cleanup() }
        try Self.used(s)
        let ledger = s.stateDir + "/ledger.sqlite"
        for suffix in ["", "-wal", "-shm"] { unlink(ledger + suffix) }
        try Self.expectRefused(s, "ledger deleted")
        let readOnly = try s.mcrun(["ps", "--recreate-ledger"])
        #expect(readOnly.status == 2 && readOnly.stderrText.contains("mcrun config --recreate-ledger"), "\(readOnly.stderrText)")
        #expect(!FileManager.default.fileExists(atPath: ledger))

        let (recreated, json) = try s.mcrunJSON(["config", "--recreate-ledger"])
        #expect(recreated.status == 0, "\(recreated.stderrText)")
        #expect(json.at("settings.capacity") == JSONValue.null)
        #expect(try s.mcrun(["ps"]).status == 0)
        #expect(try s.mcrun(["start", "N1", "--", "sleep", "1000"]).status == 0)
    }

    @Test func anEmptiedLedgerIsRefusedToo() throws {
        let s = try Scratch(name: "empty")
        defer { s.cleanup() }
        try Self.used(s)
        let ledger = s.stateDir + "/ledger.sqlite"
        for suffix in ["-wal", "-shm"] { unlink(ledger + suffix) }
        #expect(truncate(ledger, 0) == 0)
        try Self.expectRefused(s, "ledger emptied")
    }

    /// A directory from before the creation marker: its pane logs are the evidence.
    @Test func paneLogsAloneShowTheDirectoryWasUsed() throws {
        let s = try Scratch(name: "oldlost")
        defer { s.cleanup() }
        try Self.used(s)
        for suffix in ["", "-wal", "-shm"] { unlink(s.stateDir + "/ledger.sqlite" + suffix) }
        unlink(s.stateDir + "/ledger.created")
        _ = try s.tmux(["kill-server"])
        unlink(s.stateDir + "/tmux/sock")
        let result = try s.mcrunJSON(["ps"])
        #expect(result.result.status == 5)
        #expect(result.json.at("reason")?.stringValue == "ledger_missing")
        #expect(result.result.stderrText.contains("pane logs"))
    }

    /// A new directory: a read creates nothing; the first write creates the ledger, even
    /// where a tmux socket is already there.
    @Test func aNewDirectoryStartsCleanly() throws {
        let s = try Scratch(name: "fresh")
        defer { s.cleanup() }
        let ps = try s.mcrun(["ps"])
        #expect(ps.status == 0, "\(ps.stderrText)")
        #expect(ps.stdoutText.contains("no runtimes"))
        #expect(try s.mcrun(["events"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: s.stateDir), "a read created the state directory")
        // Under systemd the tmux unit has made the socket before any mcrun command ran.
        try FileManager.default.createDirectory(atPath: s.stateDir + "/tmux", withIntermediateDirectories: true)
        let socket = try Subprocess.run(["python3", "-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", s.stateDir + "/tmux/sock"])
        try #require(socket.succeeded, "\(socket.stderrText)")
        // A follower started before the ledger exists reads it once a write has created it.
        let out = s.path("follow.out")
        let follower = try Subprocess.spawn(
            ["/bin/sh", "-c", "exec \"$0\" events --follow > \"$1\"", Scratch.mcrunPath, out],
            environment: s.processEnvironment, workingDirectory: s.directory)
        s.onCleanup {
            kill(follower.pid, SIGKILL)
            _ = follower.collect(stdin: nil, timeoutMilliseconds: 5_000)
        }
        let (started, _) = try startJSON(s, "F1", command: ["sleep", "1000"])
        #expect(started.status == 0, "\(started.stderrText)")
        #expect(FileManager.default.fileExists(atPath: s.stateDir + "/ledger.created"))
        try waitUntil("the follower printed the launch") {
            ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").contains("\"kind\":\"launch\"")
        }
    }
}
