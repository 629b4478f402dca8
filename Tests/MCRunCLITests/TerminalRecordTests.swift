import Testing

@testable import MCRunCore

/// The one derivation of a terminal record, case by case.
@Suite
struct TerminalRecordTests {
    func runtime(_ state: RuntimeState, code: Int? = nil, signal: Int? = nil, reason: String? = nil, verdict: SignalKind? = nil, leftovers: Int = 0) -> Runtime
    {
        Runtime(
            id: 7, ticket: "T", episode: 2, nonce: "n", owner: nil, state: state, sessionName: "T@2", sessionID: nil, paneID: nil,
            argv: ["agent"], cwd: "/", env: [:], bootID: nil, pid: nil, startTime: nil, launcherPID: nil, launcherStartTime: nil,
            createdAt: 1, startedAt: 2, endedAt: state.isLive ? nil : 3, updatedAt: 3, endReason: reason, endedBy: "op",
            exitCode: code, exitSignal: signal, leftoversKilled: leftovers, lastScreen: nil, busy: false, busySource: nil, busyAt: nil,
            verdict: verdict, verdictAt: nil)
    }

    func ticket(deaths: Int = 0, escalated: Bool = false, parked: Bool = false) -> Ticket {
        var t = Ticket(id: "T", now: 1)
        t.deaths = deaths
        t.escalated = escalated
        t.parked = parked
        if parked { t.parkedReason = "waiting on design" }
        return t
    }

    @Test func aDoneVerdictIsCompletedWhateverEndedIt() {
        for state in [RuntimeState.completed, .stopped, .dead] {
            let r = TerminalRecord.derive(runtime(state, signal: 15, verdict: .done), ticket: ticket())
            #expect(r.status == "completed")
            #expect(r.rootCause == "done")
            #expect(!r.safeRetry && !r.humanInputRequired)
        }
    }

    @Test func deathsSayHowTheAgentEnded() {
        let code = TerminalRecord.derive(runtime(.dead, code: 2, leftovers: 3), ticket: ticket())
        #expect(code.status == "dead" && code.rootCause == "exit_code")
        #expect(code.safeRetry && !code.humanInputRequired)
        #expect(code.summary.contains("exited with code 2") && code.summary.contains("3 leftover processes killed"))
        #expect(code.artifacts == .init(exitCode: 2, exitSignal: nil, leftoversKilled: 3))

        let zero = TerminalRecord.derive(runtime(.dead, code: 0), ticket: ticket())
        #expect(zero.rootCause == "exited_without_signal")

        let killed = TerminalRecord.derive(runtime(.dead, signal: 9), ticket: ticket())
        #expect(killed.rootCause == "killed_by_signal" && killed.summary.contains("SIGKILL"))

        let unknown = TerminalRecord.derive(runtime(.dead), ticket: ticket())
        #expect(unknown.rootCause == "exit_unknown")

        let notFound = TerminalRecord.derive(runtime(.dead, code: 127), ticket: ticket())
        #expect(notFound.rootCause == "command_not_executable")
        #expect(!notFound.safeRetry && notFound.humanInputRequired)

        let escalated = TerminalRecord.derive(runtime(.dead, code: 1), ticket: ticket(deaths: 2, escalated: true))
        #expect(!escalated.safeRetry && escalated.humanInputRequired)
        #expect(escalated.stopCondition == .escalated && escalated.summary.contains("2 deaths"))
        #expect(escalated.nextActions.contains { $0.contains("mcrun reset T") })
    }

    @Test func stopsAndParksAreToldApart() {
        let stopped = TerminalRecord.derive(runtime(.stopped, signal: 15, reason: "requested"), ticket: ticket())
        #expect(stopped.status == "stopped" && stopped.rootCause == "stop_requested")
        #expect(stopped.safeRetry && !stopped.humanInputRequired)

        let parked = TerminalRecord.derive(runtime(.stopped, signal: 15, reason: "park"), ticket: ticket(parked: true))
        #expect(parked.status == "parked" && parked.humanInputRequired && !parked.safeRetry)
        #expect(parked.summary.contains("waiting on design"))
        #expect(parked.nextActions.first?.contains("mcrun unpark T") == true)
    }

    @Test func launchFailuresThatWouldRepeatNeedAPerson() {
        let notFound = TerminalRecord.derive(runtime(.launchFailed, reason: "command_not_found"), ticket: ticket())
        #expect(notFound.rootCause == "launch_command_not_found" && !notFound.safeRetry && notFound.humanInputRequired)
        let timeout = TerminalRecord.derive(runtime(.launchFailed, reason: "launch_timeout"), ticket: ticket())
        #expect(timeout.safeRetry && !timeout.humanInputRequired)
    }

    @Test func aSilentLiveRuntimeNeedsAPersonAndIsNotRetried() {
        let r = TerminalRecord.derive(runtime(.running), ticket: ticket(), silence: .init(seconds: 1900, limit: 1800))
        #expect(r.status == "silent" && r.rootCause == "silent")
        #expect(r.humanInputRequired && !r.safeRetry)
        #expect(r.summary.contains("31m"))
        // Silence means nothing once the runtime has ended.
        #expect(TerminalRecord.derive(runtime(.dead, code: 1), ticket: ticket(), silence: .init(seconds: 1900, limit: 1800)).status == "dead")
    }

    @Test func harvestTimeoutsParseAndSilenceIsMeasuredFromTheLastOutput() {
        #expect(HarvestTimeout.parse("30m") == 1800)
        #expect(HarvestTimeout.parse("90") == 90)
        #expect(HarvestTimeout.parse("0") == nil && HarvestTimeout.parse("soon") == nil)
        var r = runtime(.running)
        r.startedAt = 1000
        #expect(HarvestTimeout.silence(r, pane: nil, logPath: nil, limit: 60, now: 1050) == nil)
        #expect(HarvestTimeout.silence(r, pane: nil, logPath: nil, limit: 60, now: 1070)?.seconds == 70)
        #expect(HarvestTimeout.silence(r, pane: nil, logPath: nil, limit: nil, now: 5000) == nil)
    }
}
