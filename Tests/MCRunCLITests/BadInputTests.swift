import Foundation
import MCRunCore
import MCRunTestSupport
import Testing

@Suite(.timeLimit(.minutes(2))) struct BadInputTests {
    /// Every rejected id: exit 2, one line on stderr, and nothing created: no state
    /// directory, no session, no ledger row, no file from the id's shell syntax.
    @Test(arguments: ["A:1", "a.b", "$(touch x)", "-t", "", String(repeating: "a", count: 65)])
    func badTicketIDsChangeNothing(_ ticket: String) throws {
        let s = try Scratch(name: "badid")
        defer { s.cleanup() }
        let result = try s.mcrun(["start", ticket, "--", "sleep", "300"])
        #expect(result.status == 2, "stderr: \(result.stderrText)")
        #expect(result.stderrText.split(separator: "\n").count == 1)
        let entries = try FileManager.default.contentsOfDirectory(atPath: s.directory)
        #expect(entries.isEmpty, "created: \(entries)")
    }

    /// An unknown agent, or a resume template that is not an argv with `{session_id}` as its
    /// only placeholder: exit 2, one line, nothing created.
    @Test(arguments: [
        ["--agent", "cursor"], ["--resume-argv", " "], ["--resume-argv", "[1, 2]"], ["--resume-argv", #"["claude""#],
        ["--resume-argv", "claude --resume {sesion_id}"], ["--resume-argv", "[]"], ["--resume-argv", "no-such-agent-command --resume {session_id}"],
    ])
    func badAgentOptionsChangeNothing(_ options: [String]) throws {
        let s = try Scratch(name: "badagent")
        defer { s.cleanup() }
        let result = try s.mcrun(["start", "T1"] + options + ["--", "sleep", "300"])
        #expect(result.status == 2, "\(options): stderr: \(result.stderrText)")
        #expect(result.stderrText.split(separator: "\n").count == 1)
        let entries = try FileManager.default.contentsOfDirectory(atPath: s.directory)
        #expect(entries.isEmpty, "created: \(entries)")
    }

    @Test func usageErrorsExitTwo() throws {
        let s = try Scratch(name: "usage")
        defer { s.cleanup() }
        for args in [
            ["start"], ["start", "T1"], ["stop"], ["frobnicate"], ["stop", "T1", "--grace", "soon"], ["start", "T1", "--env", "NOEQUALS", "--", "true"],
        ] {
            let result = try s.mcrun(args)
            #expect(result.status == 2, "mcrun \(args) exited \(result.status)")
            #expect(!result.stderrText.isEmpty)
        }
    }

    @Test func helpDocumentsTheExitCodes() throws {
        let s = try Scratch(name: "help")
        defer { s.cleanup() }
        let result = try s.mcrun(["--help"])
        #expect(result.status == 0)
        for line in ["0  ok", "2  bad usage or input", "4  conflict or busy (409)", "5  refused by policy", "6  declined"] {
            #expect(result.stdoutText.contains(line), "missing: \(line)")
        }
    }
}
