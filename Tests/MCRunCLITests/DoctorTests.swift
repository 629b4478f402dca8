import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// `mcrun doctor` on a real scratch set-up: clean, then broken one part at a time.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct DoctorTests {
    static let names = [
        "tmux", "tmux server", "pidfd", "PIDFD_GET_INFO", "pane-log hook", "agent hooks", "agent hook configuration",
        "state directory", "ledger", "serve", "mcrun.service", "mcrun-tmux.service",
    ]

    func checks(_ json: JSONValue) -> [String: JSONValue] {
        Dictionary((json.at("checks")?.arrayValue ?? []).map { ($0.at("name")?.stringValue ?? "?", $0) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func aCleanScratchSetUpHasNoFailure() throws {
        let s = try Scratch(name: "doctor")
        defer { s.cleanup() }
        try #require(try s.mcrun(["start", "A1", "--", "sleep", "1000"]).status == 0)
        let (result, json) = try s.mcrunJSON(["doctor"])
        #expect(result.status == 0, "\(result.stdoutText)")
        #expect(json.at("ok")?.boolValue == true)
        #expect(json.at("failed")?.intValue == 0)
        let found = checks(json)
        for name in Self.names { #expect(found[name] != nil, "no \(name) check") }
        for (name, check) in found {
            #expect(check.at("status")?.stringValue != "fail", "\(name): \(check)")
            if check.at("status")?.stringValue == "warn" { #expect(check.at("fix")?.stringValue?.isEmpty == false, "\(name) warns without a fix") }
        }
        #expect(found["pane-log hook"]?.at("status")?.stringValue == "ok")
        #expect(found["ledger"]?.at("status")?.stringValue == "ok")
        #expect(found["state directory"]?.at("status")?.stringValue == "ok")
        #expect(found["tmux server"]?.at("status")?.stringValue == "ok", "mcrun start left its server with its options: \(found["tmux server"]!)")

        let human = try s.mcrun(["doctor"])
        #expect(human.status == 0)
        #expect(human.stdoutText.contains("0 failed"), "\(human.stdoutText)")
    }

    @Test func withoutThePaneLogHookItFailsWithExit7AndTheFix() throws {
        let s = try Scratch(name: "doctor")
        defer { s.cleanup() }
        try #require(try s.mcrun(["config", "capacity", "100"]).status == 0, "a write creates the state directory and its ledger")
        let empty = s.path("empty-hooks")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        s.environment["MCRUN_HOOKS_DIR"] = empty
        let (result, json) = try s.mcrunJSON(["doctor"])
        #expect(result.status == 7)
        #expect(json.at("ok")?.boolValue == false)
        #expect(json.at("code")?.intValue == 503)
        let hook = checks(json)["pane-log hook"]
        #expect(hook?.at("status")?.stringValue == "fail", "\(String(describing: hook))")
        #expect(hook?.at("fix")?.stringValue?.contains("MCRUN_HOOKS_DIR") == true)
        #expect(json.at("failed")?.intValue == 1)
        #expect(result.stderrText == "mcrun: doctor: 1 check failed (pane-log hook); each says its fix")
    }

    @Test func aCorruptLedgerFailsAndIsLeftAsItWas() throws {
        let s = try Scratch(name: "doctor")
        defer { s.cleanup() }
        try #require(try s.mcrun(["start", "A1", "--", "sleep", "1000"]).status == 0)
        try #require(try s.mcrun(["stop", "A1", "--grace", "2s"]).status == 0)
        let ledger = s.stateDir + "/ledger.sqlite"
        // Every page after the header page overwritten: the file still opens, its tables do not add up.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: ledger)))
        try #require(bytes.count > 8192)
        for i in 4096..<bytes.count { bytes[i] = UInt8(truncatingIfNeeded: i &* 31) }
        try Data(bytes).write(to: URL(fileURLWithPath: ledger))

        let (result, json) = try s.mcrunJSON(["doctor"])
        #expect(result.status == 7, "\(result.stdoutText)")
        let check = checks(json)["ledger"]
        #expect(check?.at("status")?.stringValue == "fail", "\(String(describing: check))")
        #expect(check?.at("fix")?.stringValue?.contains(".recover") == true)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: ledger))) == bytes, "doctor changed the ledger")
    }

    @Test func aStateDirectoryOthersCanReachFails() throws {
        let s = try Scratch(name: "doctor")
        defer { s.cleanup() }
        try #require(try s.mcrun(["config", "capacity", "100"]).status == 0, "a write creates the state directory and its ledger")
        chmod(s.stateDir, 0o755)
        let (result, json) = try s.mcrunJSON(["doctor"])
        #expect(result.status == 7)
        #expect(checks(json)["state directory"]?.at("status")?.stringValue == "fail")
        var st = stat()
        stat(s.stateDir, &st)
        #expect(st.st_mode & 0o777 == 0o755, "doctor changes nothing, not even a mode")
    }

    @Test func aMissingStateDirectoryIsAWarningAndIsNotCreated() throws {
        let s = try Scratch(name: "doctor")
        defer { s.cleanup() }
        let (result, json) = try s.mcrunJSON(["doctor"])
        #expect(result.status == 0, "\(result.stdoutText)")
        #expect(checks(json)["state directory"]?.at("status")?.stringValue == "warn")
        #expect(access(s.stateDir, F_OK) != 0, "doctor created the state directory")
    }

    /// The agent-hook check knows the shipped hooks: `mcrun agent report` is right, the old
    /// `mcrun activity` hooks (exit 2 outside a runtime) are a warning, and the fix is setup.
    @Test func theAgentHookCheckKnowsTheShippedHooks() throws {
        let s = try Scratch(name: "doctorhooks")
        defer { s.cleanup() }
        try #require(try s.mcrun(["config", "capacity", "100"]).status == 0)
        let home = s.path("home")
        try FileManager.default.createDirectory(atPath: home + "/.claude", withIntermediateDirectories: true)
        s.environment["HOME"] = home
        #expect(try s.mcrun(["agent", "setup", "claude-code", "--user"]).status == 0)
        var check = checks(try s.mcrunJSON(["doctor"]).1)["agent hook configuration"]
        #expect(check?.at("status")?.stringValue == "ok", "after mcrun agent setup: \(String(describing: check))")
        #expect(
            FileManager.default.createFile(
                atPath: home + "/.claude/settings.json",
                contents: Data(#"{"hooks":{"Stop":[{"hooks":[{"type":"command","command":"mcrun activity idle"}]}]}}"#.utf8)))
        check = checks(try s.mcrunJSON(["doctor"]).1)["agent hook configuration"]
        #expect(check?.at("status")?.stringValue == "warn")
        #expect(check?.at("fix")?.stringValue == "mcrun agent setup claude-code --user")
    }

}
