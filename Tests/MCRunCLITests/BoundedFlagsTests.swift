import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// Every numeric flag of every command, given a value too large, negative or not a number:
/// exit 2 with one line naming the flag and its range, and nothing changed — the agent is not
/// signalled, the ledger is as it was, nothing is started.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct BoundedFlagsTests {
    static let badDurations = ["1e10s", "1e300s", "9223372036854775807", "99999999999999999999h", "-5s", "nan", "soon"]
    static let badCounts = ["9223372036854775808", "99999999999999999999", "-1", "1e3", "x"]

    /// The command, with `VALUE` where the flag's value goes, and the flag as the error names it.
    static let durationFlags: [([String], String)] = [
        (["stop", "T1", "--grace", "VALUE"], "--grace"),
        (["park", "T1", "--grace", "VALUE"], "--grace"),
        (["send", "T1", "hi", "--interrupt", "--wait", "VALUE"], "--wait"),
        (["send", "T1", "hi", "--receipt", "VALUE"], "--receipt"),
        (["start", "T2", "--timeout", "VALUE", "--", "sleep", "1000"], "--timeout"),
        (["serve", "--reconcile-interval", "VALUE"], "--reconcile-interval"),
        (["serve", "--retry-delay", "VALUE"], "--retry-delay"),
        (["serve", "--launch-timeout", "VALUE"], "--launch-timeout"),
        (["ps", "--harvest-timeout", "VALUE"], "--harvest-timeout"),
        (["harvest", "T1", "--harvest-timeout", "VALUE"], "--harvest-timeout"),
        (["event-hooks", "deliver", "--once", "--timeout", "VALUE"], "--timeout"),
        (["event-hooks", "deliver", "--once", "--backoff", "VALUE"], "--backoff"),
        (["event-hooks", "deliver", "--once", "--max-backoff", "VALUE"], "--max-backoff"),
        (["event-hooks", "deliver", "--once", "--poll", "VALUE"], "--poll"),
    ]

    static let countFlags: [([String], String)] = [
        (["serve", "--max-silent-retries", "VALUE"], "--max-silent-retries"),
        (["show", "T1", "--events", "VALUE"], "--events"),
        (["harvest", "T1", "--lines", "VALUE"], "--lines"),
        (["harvest", "T1", "--episode", "VALUE"], "--episode"),
        (["logs", "T1", "-n", "VALUE"], "-n"),
        (["logs", "T1", "--episode", "VALUE"], "--episode"),
        (["events", "--since", "VALUE"], "--since"),
        (["event-hooks", "list", "--limit", "VALUE"], "--limit"),
        (["event-hooks", "list", "--event", "VALUE"], "--event"),
        (["event-hooks", "deliver", "--once", "--max-attempts", "VALUE"], "--max-attempts"),
        (["activity", "busy", "--ticket", "T1", "--episode", "VALUE"], "--episode"),
        (["signal", "DONE", "--ticket", "T1", "--episode", "VALUE"], "--episode"),
        (["config", "capacity", "VALUE"], "capacity"),
        (["config", "busy-window", "VALUE"], "busy-window"),
        (["config", "retry-delay", "VALUE"], "retry-delay"),
        (["config", "harvest-timeout", "VALUE"], "harvest-timeout"),
        (["config", "max-silent-retries", "VALUE"], "max-silent-retries"),
    ]

    /// What the ledger holds, for comparing before and after: every event, every setting,
    /// the state of each ticket's runtime.
    static func snapshot(_ s: Scratch) throws -> String {
        let events = try s.mcrun(["events"]).stdoutText
        let settings = try s.mcrun(["config"]).stdoutText
        let runtimes = try ["T1", "T2"].map { ticket in
            let runtime = try s.context().ledger.episodes(ticket: ticket).first
            return "\(ticket): \(runtime.map { "\($0.id ?? 0) \($0.state.rawValue)" } ?? "none")"
        }
        return ([events, settings] + runtimes).joined(separator: "\n")
    }

    @Test func outOfRangeValuesExitTwoAndChangeNothing() throws {
        let s = try Scratch(name: "bounded")
        defer { s.cleanup() }
        let signals = s.path("signals")
        let agent = try s.script("agent.sh", "trap 'echo $1 >> \(signals)' TERM INT HUP QUIT\nwhile :; do sleep 0.2; done\n")
        let (started, json) = try startJSON(s, "T1", command: ["sh", agent])
        try #require(started.status == 0, "\(started.stderrText)")
        let pid = Int32(try #require(json.at("runtime.pid")?.intValue))
        #expect(try s.mcrun(["config", "capacity", "5"]).status == 0)
        let before = try Self.snapshot(s)

        var cases: [([String], String)] = []
        for (args, flag) in Self.durationFlags {
            for value in Self.badDurations { cases.append((args.map { $0 == "VALUE" ? value : $0 }, flag)) }
        }
        for (args, flag) in Self.countFlags {
            for value in Self.badCounts { cases.append((args.map { $0 == "VALUE" ? value : $0 }, flag)) }
        }
        for (args, flag) in cases {
            let result = try s.mcrun(args, timeoutMilliseconds: 20_000)
            #expect(
                result.status == 2 && result.signal == nil,
                "mcrun \(args) exited \(result.status) signal \(result.signal.map(String.init) ?? "-"): \(result.stderrText)")
            let lines = result.stderrText.split(separator: "\n")
            #expect(lines.count == 1, "mcrun \(args) wrote \(lines.count) lines: \(result.stderrText)")
            // A setting's value is an argument: `config capacity -1` reads as an unknown option.
            if !(args[0] == "config" && args[2].hasPrefix("-")) {
                #expect(result.stderrText.contains(flag), "mcrun \(args) does not name \(flag): \(result.stderrText)")
                #expect(result.stderrText.contains(" to "), "mcrun \(args) does not give the range: \(result.stderrText)")
            }
        }

        #expect(try Self.snapshot(s) == before)
        #expect(kill(pid, 0) == 0, "the agent is gone")
        #expect(!FileManager.default.fileExists(atPath: signals), "the agent was signalled: \((try? String(contentsOfFile: signals, encoding: .utf8)) ?? "")")
        #expect(try sessions(s).count == 1)
    }

    @Test func everyDurationFlagTakesUnitsAndTimeoutKeepsBareMilliseconds() throws {
        let s = try Scratch(name: "units")
        defer { s.cleanup() }
        let (a, _) = try startJSON(s, "U1", ["--timeout", "10s"], command: ["sleep", "1000"])
        #expect(a.status == 0, "\(a.stderrText)")
        // Documented before units existed: a bare --timeout is milliseconds.
        let (b, _) = try startJSON(s, "U2", ["--timeout", "10000"], command: ["sleep", "1000"])
        #expect(b.status == 0, "\(b.stderrText)")
        #expect(try s.mcrun(["ps", "--harvest-timeout", "1h30m"]).status == 0)
        #expect(try s.mcrun(["show", "U1", "--events", "3"]).status == 0)
        #expect(try s.mcrun(["config", "retry-delay", "1m30s"]).stdoutText.contains("90"))
        let stop = try s.mcrun(["stop", "U1", "--grace", "250ms"])
        #expect(stop.status == 0, "\(stop.stderrText)")
        let help = try s.mcrun(["start", "--help"])
        let words = help.stdoutText.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(words.contains("a bare number is milliseconds"))
    }

    /// The busy timeout from the environment reaches SQLite as an Int32 of milliseconds.
    @Test func anOutOfRangeBusyTimeoutIsIgnoredNotATrap() throws {
        let s = try Scratch(name: "busyenv")
        defer { s.cleanup() }
        #expect(try s.mcrun(["config", "capacity", "2"]).status == 0)
        for value in ["1e300", "9223372036854775807", "-5", "soon"] {
            s.environment["MCRUN_BUSY_TIMEOUT"] = value
            for args in [["ps"], ["config", "capacity", "3"]] {
                let result = try s.mcrun(args)
                #expect(result.status == 0 && result.signal == nil, "MCRUN_BUSY_TIMEOUT=\(value) mcrun \(args): exit \(result.status): \(result.stderrText)")
            }
        }
    }
}
