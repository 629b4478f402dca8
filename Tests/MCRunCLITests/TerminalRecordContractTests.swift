import ArgumentParser
import Foundation
import MCRunCLI
import MCRunTestSupport
import Testing

@testable import MCRunCore

/// The terminal record speaks the contract: exactly its fields, and next actions that are
/// commands mcrun has.
@Suite(.serialized)
struct TerminalRecordContractTests {
    static let contractKeys: Set<String> = [
        "status", "summary", "root_cause", "safe_retry", "stop_condition", "human_input_required", "next_actions", "artifacts",
    ]
    static let artifactKeys: Set<String> = ["log", "raw_log", "exit_code", "exit_signal", "leftovers_killed"]

    func runtime(_ state: RuntimeState, code: Int? = nil, signal: Int? = nil, reason: String? = nil, verdict: SignalKind? = nil) -> Runtime {
        Runtime(
            id: 7, ticket: "T", episode: 2, nonce: "n", owner: nil, state: state, sessionName: "T@2", sessionID: nil, paneID: nil,
            argv: ["agent"], cwd: "/", env: [:], bootID: nil, pid: nil, startTime: nil, launcherPID: nil, launcherStartTime: nil,
            createdAt: 1, startedAt: 2, endedAt: state.isLive ? nil : 3, updatedAt: 3, endReason: reason, endedBy: "op",
            exitCode: code, exitSignal: signal, leftoversKilled: 0, lastScreen: nil, busy: false, busySource: nil, busyAt: nil,
            verdict: verdict, verdictAt: nil)
    }

    func ticket(deaths: Int = 0, escalated: Bool = false, parked: Bool = false) -> Ticket {
        var t = Ticket(id: "T", now: 1)
        t.deaths = deaths
        t.escalated = escalated
        t.parked = parked
        return t
    }

    /// A death whose cgroup saw the OOM killer, under a 64M limit.
    func outOfMemory() -> Runtime {
        var r = runtime(.dead, signal: 9)
        r.limits = ResourceLimits(memoryMax: 64 << 20)
        r.usage = ResourceUsage(memoryPeak: 64 << 20, oomKills: 1)
        return r
    }

    /// One record of every kind, with the stop condition each must carry.
    var everyKind: [(name: String, record: TerminalRecord, condition: TerminalRecord.StopCondition)] {
        [
            ("completed", TerminalRecord.derive(runtime(.completed, code: 0, verdict: .done), ticket: ticket()), .completed),
            ("stopped", TerminalRecord.derive(runtime(.stopped, signal: 15, reason: "requested"), ticket: ticket()), .stoppedByOperator),
            ("parked", TerminalRecord.derive(runtime(.stopped, signal: 15, reason: "park"), ticket: ticket(parked: true)), .parked),
            ("dead", TerminalRecord.derive(runtime(.dead, code: 1), ticket: ticket(deaths: 1)), .died),
            ("dead, not executable", TerminalRecord.derive(runtime(.dead, code: 127), ticket: ticket(deaths: 1)), .died),
            ("escalated", TerminalRecord.derive(runtime(.dead, code: 1), ticket: ticket(deaths: 2, escalated: true)), .escalated),
            ("launch_failed", TerminalRecord.derive(runtime(.launchFailed, reason: "launch_timeout"), ticket: ticket()), .launchFailed),
            ("launch_failed, permanent", TerminalRecord.derive(runtime(.launchFailed, reason: "command_not_found"), ticket: ticket()), .launchFailed),
            ("out of memory", TerminalRecord.derive(outOfMemory(), ticket: ticket(deaths: 1)), .died),
            ("out of memory, escalated", TerminalRecord.derive(outOfMemory(), ticket: ticket(deaths: 2, escalated: true)), .escalated),
            ("silent", TerminalRecord.derive(runtime(.running), ticket: ticket(), silence: .init(seconds: 90, limit: 60)), .silent),
        ]
    }

    @Test func everyNextActionIsACommandTheCLIHas() throws {
        let subcommands = Set(MCRun.configuration.subcommands.compactMap { $0.configuration.commandName })
        // The list is read from the real root command: a sanity check that it was read at all.
        #expect(subcommands.isSuperset(of: ["logs", "show", "start", "stop", "harvest", "reset", "unpark"]))
        for (name, record, condition) in everyKind {
            #expect(record.stopCondition == condition, "\(name)")
            #expect(!record.nextActions.isEmpty, "\(name) has no next action")
            for action in record.nextActions {
                let words = action.split(separator: " ").map(String.init)
                #expect(words.first == "mcrun", "\(name): \(action.debugDescription) is not an mcrun command")
                #expect(words.count > 1 && subcommands.contains(words[1]), "\(name): \(action.debugDescription) names no subcommand of mcrun")
            }
        }
    }

    @Test func theEncodedRecordHasExactlyTheContractFields() throws {
        for (name, record, _) in everyKind {
            let json = try #require(JSONValue.parse(String(decoding: try JSONEncoder().encode(record), as: UTF8.self)))
            guard case .object(let fields) = json, case .object(let artifacts)? = fields["artifacts"] else {
                Issue.record("\(name): not an object with artifacts")
                continue
            }
            #expect(Set(fields.keys) == Self.contractKeys, "\(name)")
            #expect(Set(artifacts.keys) == Self.artifactKeys, "\(name)")
        }
    }

    /// Records stored before the contract's names still harvest, under the new names, and
    /// their next actions keep only real commands.
    @Test func aRecordStoredWithTheOldKeysStillDecodes() throws {
        let stored = #"""
            {"status":"dead","summary":"episode 1 ended","root_cause":"exit_code","retry_safe":false,
             "human_input_needed":true,"next_actions":["read the transcript: mcrun logs T","look at the pane: mcrun attach T",
             "a first death is relaunched by mcrun serve; a second one escalates","fix the cause, then: mcrun reset T"],
             "artifacts":{"exit_code":1,"leftovers_killed":0},"end_reason":"agent_exited","ended_by":"serve","ended_at":3,
             "deaths":2,"escalated":true,"verdict":null}
            """#
        let record = try JSONDecoder().decode(TerminalRecord.self, from: Data(stored.utf8))
        #expect(record.safeRetry == false && record.humanInputRequired == true)
        #expect(record.stopCondition == .escalated)
        #expect(record.nextActions == ["mcrun logs T", "mcrun reset T"])
        let again = try JSONDecoder().decode(TerminalRecord.self, from: try JSONEncoder().encode(record))
        #expect(again == record)
    }

    /// Through the real binary: a stopped runtime and a dead one harvest with exactly
    /// the contract's keys, and the extra facts stay on the runtime beside the record.
    @Test func harvestJSONHasExactlyTheContractKeys() throws {
        let s = try Scratch(name: "contract")
        defer { s.cleanup() }
        #expect(try s.mcrun(["start", "K1", "--", "sleep", "30"]).status == 0)
        #expect(try s.mcrun(["stop", "K1", "--grace", "1s"]).status == 0)
        #expect(try s.mcrun(["start", "K2", "--", "sh", "-c", "exit 3"]).status == 0)
        let context = try s.context()
        let started = try #require(try context.ledger.runtime(ticket: "K2", episode: nil))
        try waitUntil("the agent of K2 exited", timeout: 15) { started.liveness() == .exited }
        // Whoever touches a dead runtime records its death: here a stop, through the ending path.
        #expect(try s.mcrun(["stop", "K2"]).status == 0)

        for (ticket, condition) in [("K1", "stopped_by_operator"), ("K2", "died")] {
            let harvest = try s.mcrunJSON(["harvest", ticket])
            #expect(harvest.result.status == 0, "\(harvest.result.stderrText)")
            guard case .object(let record)? = harvest.json["record"], case .object(let artifacts)? = record["artifacts"] else {
                Issue.record("harvest \(ticket) has no record: \(harvest.result.stdoutText)")
                continue
            }
            #expect(Set(record.keys) == Self.contractKeys, "\(ticket): \(record.keys.sorted())")
            #expect(Set(artifacts.keys) == Self.artifactKeys, "\(ticket): \(artifacts.keys.sorted())")
            #expect(record["stop_condition"]?.stringValue == condition)
            #expect(harvest.json.at("runtime.ended_by") != nil && harvest.json.at("runtime.deaths") != nil)
        }
    }

    @Test func outOfMemoryIsTheCauseWithTheLimitAndPeakAndNoBlindRetry() {
        let record = TerminalRecord.derive(outOfMemory(), ticket: ticket(deaths: 1))
        #expect(record.rootCause == "out_of_memory")
        #expect(record.safeRetry == false)
        #expect(record.summary.contains("memory-max 64M, peak 64M"), "\(record.summary)")
        #expect(record.nextActions.first == "mcrun start T --memory-max 128M -- COMMAND")
        // The same exit without OOM kills is an ordinary death.
        #expect(TerminalRecord.derive(runtime(.dead, signal: 9), ticket: ticket(deaths: 1)).rootCause == "killed_by_signal")
    }
}
