import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// The owed relaunch after a first death: what it runs, and that it happens exactly once
/// through a serve crash, a capacity hold, or not at all after a park or a manual start.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct RelaunchTests {
    static func pending(_ s: Scratch) throws -> Int {
        try s.context().ledger.pendingRetries().count
    }

    /// The relaunch replays what `start` recorded (argv, cwd, --env, the starter's
    /// environment, owner), not serve's own environment or directory.
    @Test func theRelaunchedEpisodeRunsTheSameCommandInTheSameDirectoryWithTheSameEnvironment() throws {
        let s = try Scratch(name: "fidelity")
        defer { s.cleanup() }
        let work = s.path("work dir")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let agent = try s.script(
            "agent.sh",
            """
            #!/bin/sh
            printf '%s\\n%s\\n%s\\n%s\\n' "$(pwd)" "$FROM_FLAG" "$FROM_STARTER" "$1" > "$OUT.$MCRUN_EPISODE.tmp"
            mv "$OUT.$MCRUN_EPISODE.tmp" "$OUT.$MCRUN_EPISODE"
            exec sleep 1000
            """)
        s.environment["FROM_STARTER"] = "starter's value"
        s.environment["OUT"] = s.path("seen")
        let serve = try ServeProcess(
            s, arguments: ["--retry-delay", "300ms", "--reconcile-interval", "1s"],
            environment: ["FROM_STARTER": "serve's value", "FROM_FLAG": "serve's flag"])
        try serve.waitUntilReady()
        let started = try s.mcrun([
            "start", "F1", "--owner", "alice", "--cwd", work, "--env", "FROM_FLAG=a b=c", "--json", "--", agent, "arg with spaces",
        ])
        try #require(started.status == 0, "\(started.stderrText)")
        try waitUntil("episode 1 wrote what it saw") { FileManager.default.fileExists(atPath: s.path("seen.1")) }
        let first = try #require(try s.runtimes("F1").first)
        kill(try #require(first.pid), SIGKILL)
        try waitUntil("episode 2 running and written") {
            try s.runtimes("F1").last?.state == .running && FileManager.default.fileExists(atPath: s.path("seen.2"))
        }
        let seen1 = try String(contentsOfFile: s.path("seen.1"), encoding: .utf8)
        let seen2 = try String(contentsOfFile: s.path("seen.2"), encoding: .utf8)
        #expect(seen1 == "\(work)\na b=c\nstarter's value\narg with spaces\n")
        #expect(seen2 == seen1)

        let runtimes = try s.runtimes("F1")
        #expect(runtimes.count == 2)
        let (a, b) = (runtimes[0], runtimes[1])
        #expect(b.argv == a.argv && b.argv == [agent, "arg with spaces"])
        #expect(b.cwd == a.cwd && b.cwd == work)
        #expect(b.env == a.env)
        #expect(b.env["FROM_FLAG"] == "a b=c" && b.env["FROM_STARTER"] == "starter's value")
        #expect(b.owner == "alice" && a.owner == "alice")
        #expect(b.nonce != a.nonce)

        let (_, show) = try s.mcrunJSON(["show", "F1"])
        let episodes = show.at("episodes")?.arrayValue ?? []
        #expect(episodes.count == 2)
        for e in episodes {
            #expect(e.at("owner")?.stringValue == "alice")
            #expect(e.at("cwd")?.stringValue == work)
            #expect(e.at("argv")?.arrayValue?.compactMap(\.stringValue) == [agent, "arg with spaces"])
        }
    }

    /// A resume template (`start --resume-argv`) is what the relaunch runs when the dead
    /// episode recorded its agent's session, with that session's id; without a recorded
    /// session the relaunch runs the caller's own argv.
    @Test func theRelaunchResumesTheAgentsSessionOnlyWhenTheDeadEpisodeRecordedOne() throws {
        let s = try Scratch(name: "resume")
        defer { s.cleanup() }
        // The agent reports a Claude Code session start when asked to, then writes its argv.
        let agent = try s.script(
            "agent.sh",
            """
            #!/bin/sh
            if [ "$1" = report ]; then
              printf '%s' '{"hook_event_name":"SessionStart","session_id":"sess-42","transcript_path":"/nowhere/sess-42.jsonl"}' | \(Scratch.mcrunPath) agent report
            fi
            echo "$*" > "$OUT.$MCRUN_TICKET.$MCRUN_EPISODE.tmp"
            mv "$OUT.$MCRUN_TICKET.$MCRUN_EPISODE.tmp" "$OUT.$MCRUN_TICKET.$MCRUN_EPISODE"
            exec sleep 1000
            """)
        s.environment["OUT"] = s.path("argv")
        let serve = try ServeProcess(s, arguments: ["--retry-delay", "300ms", "--reconcile-interval", "1s"])
        try serve.waitUntilReady()
        let template = #"["\#(agent)", "--resume", "{session_id}", "a b"]"#
        for (ticket, mode) in [("R1", "report"), ("R2", "quiet")] {
            let started = try s.mcrun(["start", ticket, "--resume-argv", template, "--json", "--", agent, mode])
            try #require(started.status == 0, "\(started.stderrText)")
        }
        try waitUntil("R1 recorded its agent's session") { try s.runtimes("R1").first?.agentSessionID == "sess-42" }
        try waitUntil("both first episodes wrote their argv") {
            FileManager.default.fileExists(atPath: s.path("argv.R1.1")) && FileManager.default.fileExists(atPath: s.path("argv.R2.1"))
        }
        for ticket in ["R1", "R2"] { kill(try #require(try s.runtimes(ticket).first?.pid), SIGKILL) }
        try waitUntil("both second episodes running and written") {
            try ["R1", "R2"].allSatisfy { t in
                try s.runtimes(t).last?.episode == 2 && s.runtimes(t).last?.state == .running
                    && FileManager.default.fileExists(atPath: s.path("argv.\(t).2"))
            }
        }
        // With a session: the template, with the id in its place, as the pane's process runs it.
        let resumed = try #require(try s.runtimes("R1").last)
        #expect(resumed.argv == [agent, "--resume", "sess-42", "a b"])
        #expect(resumed.originalArgv == [agent, "report"])
        #expect(resumed.resumeArgv == [agent, "--resume", "{session_id}", "a b"])
        #expect(try String(contentsOfFile: s.path("argv.R1.2"), encoding: .utf8) == "--resume sess-42 a b\n")
        #expect(try s.events("retry", ticket: "R1").first?.data.at("resumed_session")?.stringValue == "sess-42")
        // Without one: the caller's own argv, and the template kept for a later relaunch.
        let plain = try #require(try s.runtimes("R2").last)
        #expect(plain.argv == [agent, "quiet"])
        #expect(plain.originalArgv == nil)
        #expect(plain.resumeArgv == [agent, "--resume", "{session_id}", "a b"])
        #expect(try String(contentsOfFile: s.path("argv.R2.2"), encoding: .utf8) == "quiet\n")
        #expect(try s.events("retry", ticket: "R2").first?.data.at("resumed_session") == .null)
        let (_, show) = try s.mcrunJSON(["show", "R1"])
        let originals = show.at("episodes")?.arrayValue?.map { $0.at("original_argv")?.arrayValue?.compactMap(\.stringValue) }
        #expect(originals?.contains([agent, "report"]) == true, "show: \(show)")
    }

    /// serve SIGKILLed while a relaunch is owed: the next serve relaunches it, once.
    @Test func aServeKilledDuringTheRetryDelayLeavesTheRelaunchToTheNextServeExactlyOnce() throws {
        let s = try Scratch(name: "crashdelay")
        defer { s.cleanup() }
        let first = try ServeProcess(s, arguments: ["--retry-delay", "3s", "--reconcile-interval", "1s"], log: "serve1.log")
        try first.waitUntilReady()
        let agent = try s.startAgent("C1", ["sleep", "1000"])
        kill(agent, SIGKILL)
        try waitUntil("the death recorded with a relaunch owed") { try s.runtimes("C1").first?.state == .dead && Self.pending(s) == 1 }
        kill(first.pid, SIGKILL)
        #expect(first.waitForExit(timeout: 10) != nil)
        #expect(try s.runtimes("C1").count == 1, "the relaunch was not due yet")

        let second = try ServeProcess(s, arguments: ["--retry-delay", "300ms", "--reconcile-interval", "1s"], log: "serve2.log")
        try second.waitUntilReady()
        try waitUntil("the relaunch by the second serve", timeout: 10) {
            let r = try s.runtimes("C1")
            return r.count == 2 && r[1].state == .running
        }
        try holdsFalse("a second relaunch", for: 2) { try s.runtimes("C1").count > 2 }
        #expect(try s.events("retry", ticket: "C1").count == 1)
        #expect(try s.events("death", ticket: "C1").count == 1)
        #expect(try Self.pending(s) == 0)
        #expect(try s.ticketRow("C1")?.deaths == 1)
    }

    /// SIGTERM while a relaunch is in flight (its tmux call held up by a stopped tmux
    /// server): serve waits for it before exiting, so no runtime is left `launching` and the
    /// relaunch is either done or owed again, never lost.
    @Test func aGracefulStopOfServeWaitsForTheRelaunchInFlight() throws {
        let s = try Scratch(name: "termrelaunch")
        defer { s.cleanup() }
        // No pass during the test: the loop never calls the stopped tmux itself.
        let serve = try ServeProcess(s, arguments: ["--retry-delay", "4s", "--reconcile-interval", "60s"])
        try serve.waitUntilReady()
        let agent = try s.startAgent("T1", ["sleep", "1000"])
        kill(agent, SIGKILL)
        try waitUntil("the death recorded and torn down, the relaunch owed") {
            let r = try s.runtimes("T1")
            return try r.count == 1 && r[0].state == .dead && !r[0].teardownOwed && Self.pending(s) == 1
        }
        let tmuxPID = try #require(Int32(try s.tmux(["display-message", "-p", "#{pid}"]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(tmuxPID, SIGSTOP)
        var resumed = false
        s.onCleanup { if !resumed { kill(tmuxPID, SIGCONT) } }
        try #require(try s.runtimes("T1").count == 1, "the relaunch began before tmux was stopped")
        try waitUntil("the relaunch admitted and waiting on tmux", timeout: 15) { try s.runtimes("T1").last?.state == .launching }

        kill(serve.pid, SIGTERM)
        // Longer than the 5 s serve used to wait for background work, shorter than tmux's own timeout.
        try holdsFalse("serve exiting while its relaunch is in flight", for: 6) { serve.exitStatus() != nil }
        kill(tmuxPID, SIGCONT)
        resumed = true
        let status = try #require(serve.waitForExit(timeout: 40), "serve did not exit after the relaunch finished; log:\n\(serve.log)")
        #expect(status == 0, "serve's wait status \(status); log:\n\(serve.log)")
        #expect(serve.log.contains("mcrun-relaunch-T1"), "the shutdown names the relaunch it waits for; log:\n\(serve.log)")
        #expect(!serve.log.contains("shutdown_bound"), "log:\n\(serve.log)")

        let runtimes = try s.runtimes("T1")
        #expect(runtimes.count == 2)
        #expect(!runtimes.contains { $0.state == .launching }, "states: \(runtimes.map(\.state.rawValue))")
        let relaunched = try #require(runtimes.last)
        switch relaunched.state {
        case .running:
            #expect(isAlive(try #require(relaunched.pid)))
            #expect(try Self.pending(s) == 0)
            #expect(try s.events("retry", ticket: "T1").count == 1)
        case .launchFailed:
            // tmux's own timeout hit first: the failed relaunch is owed again.
            #expect(try Self.pending(s) == 1, "the failed relaunch must stay owed")
        default:
            Issue.record("unexpected state \(relaunched.state.rawValue) of the relaunch")
        }
        #expect(try s.ticketRow("T1")?.deaths == 1)
        #expect(try s.ticketRow("T1")?.escalated == false)
    }

    /// A relaunch refused because the host is full stays owed and runs once a slot frees.
    @Test func aRelaunchHeldByCapacityRunsOnceCapacityFrees() throws {
        let s = try Scratch(name: "capretry")
        defer { s.cleanup() }
        #expect(try s.mcrun(["config", "capacity", "1"]).status == 0)
        let serve = try ServeProcess(s, arguments: ["--retry-delay", "1500ms", "--reconcile-interval", "300ms"])
        try serve.waitUntilReady()
        let agent = try s.startAgent("CAP1", ["sleep", "1000"])
        kill(agent, SIGKILL)
        try waitUntil("the death recorded with a relaunch owed") { try s.runtimes("CAP1").first?.state == .dead && Self.pending(s) == 1 }
        _ = try s.startAgent("CAP2", ["sleep", "1000"])
        try waitUntil("the relaunch refused for capacity", timeout: 10) {
            try s.events("retry_refused", ticket: "CAP1").contains { $0.reason == "capacity" }
        }
        try holdsFalse("a relaunch while the host is full", for: 1.5) { try s.runtimes("CAP1").count > 1 }
        #expect(try Self.pending(s) == 1, "the relaunch stays owed")
        #expect(try s.ticketRow("CAP1")?.escalated == false)

        #expect(try s.mcrun(["stop", "CAP2", "--grace", "1s"]).status == 0)
        try waitUntil("the relaunch once capacity freed", timeout: 10) {
            let r = try s.runtimes("CAP1")
            return r.count == 2 && r[1].state == .running
        }
        try holdsFalse("a second relaunch", for: 1.5) { try s.runtimes("CAP1").count > 2 }
        #expect(try s.events("retry", ticket: "CAP1").count == 1)
        #expect(try s.events("retry_refused", ticket: "CAP1").count == 1, "one refusal recorded however many attempts")
        #expect(try Self.pending(s) == 0)
    }

    /// A manual `start` during the retry delay runs the ticket; the owed relaunch must not
    /// start a second episode on top of it, and must not stay owed.
    @Test func aManualStartDuringTheRetryDelayTakesThePlaceOfTheRelaunch() throws {
        let s = try Scratch(name: "startdelay")
        defer { s.cleanup() }
        let serve = try ServeProcess(s, arguments: ["--retry-delay", "1500ms", "--reconcile-interval", "300ms"])
        try serve.waitUntilReady()
        let agent = try s.startAgent("M1", ["sleep", "1000"])
        kill(agent, SIGKILL)
        try waitUntil("the death recorded with a relaunch owed") { try s.runtimes("M1").first?.state == .dead && Self.pending(s) == 1 }
        let manual = try s.startAgent("M1", ["sleep", "1001"])
        try waitUntil("the owed relaunch dropped", timeout: 10) { try Self.pending(s) == 0 }
        try holdsFalse("a third episode", for: 2.5) { try s.runtimes("M1").count > 2 }
        let runtimes = try s.runtimes("M1")
        #expect(runtimes.map(\.state) == [.dead, .running])
        #expect(runtimes[1].pid == manual && runtimes[1].argv == ["sleep", "1001"])
        #expect(isAlive(manual))
        #expect(try s.events("retry", ticket: "M1").isEmpty)
        let dropped = try s.events("retry_refused", ticket: "M1") + s.events("retry_cancelled", ticket: "M1")
        #expect(dropped.count == 1, "the dropped relaunch is recorded once: \(dropped.map { "\($0.kind) \($0.reason ?? "-")" })")
        #expect(try s.ticketRow("M1")?.deaths == 1)
    }

    /// DONE accepted, then the agent exits: serve ends it `completed`, not `dead`, and the
    /// ticket's death count is reset.
    @Test func anAgentThatExitsAfterItsDoneWasAcceptedEndsCompletedUnderServe() throws {
        let s = try Scratch(name: "doneserve")
        defer { s.cleanup() }
        let serve = try ServeProcess(s, arguments: ["--retry-delay", "300ms", "--reconcile-interval", "60s"])
        try serve.waitUntilReady()
        let now = WallClock.now()
        try s.editLedger("INSERT INTO tickets(id, deaths, created_at, updated_at) VALUES ('OK1', 1, \(now), \(now));")
        let go = s.path("go")
        // The agent's environment holds MCRUN_TICKET, MCRUN_EPISODE and MCRUN_NONCE.
        let agent = try s.script(
            "agent.sh",
            """
            #!/bin/sh
            while [ ! -e '\(go)' ]; do sleep 0.02; done
            '\(Scratch.mcrunPath)' signal DONE --summary finished > '\(s.path("signal.out"))' 2>&1 || exit 9
            exit 0
            """)
        _ = try s.startAgent("OK1", [agent])
        _ = try s.write("go", "")
        try waitUntil("the runtime ended and was torn down", timeout: 10) {
            try s.runtimes("OK1").first.map { !$0.state.isLive && !$0.teardownOwed } == true
        }
        let ended = try #require(try s.runtimes("OK1").first)
        #expect(ended.state == .completed, "signal output: \((try? String(contentsOfFile: s.path("signal.out"), encoding: .utf8)) ?? "")")
        #expect(ended.verdict == .done)
        #expect(ended.exitCode == 0)
        #expect(try s.events("death", ticket: "OK1").isEmpty)
        #expect(try s.ticketRow("OK1")?.deaths == 0)
        try holdsFalse("a relaunch of a completed runtime", for: 1) { try s.runtimes("OK1").count > 1 }
        #expect(try Self.pending(s) == 0)
    }
}

/// Branches of serve's reconcile pass other than deaths: abandoned launches and stops,
/// leftover sessions of ended runtimes, orphan sessions.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct ReconcileBranchTests {
    static func children(of parent: Int32) -> [Int32] {
        ProcFS.allPIDs().filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == parent
        }
    }

    /// `mcrun start` SIGKILLed (with its tmux client) while tmux does not answer: once tmux
    /// answers again, nothing is left `launching`; the ticket either runs a live agent or
    /// its launch is failed with nothing left behind.
    @Test func aLaunchWhoseLauncherWasKilledIsResolvedByServe() throws {
        let s = try Scratch(name: "abandon")
        defer { s.cleanup() }
        let serve = try ServeProcess(s, arguments: ["--reconcile-interval", "200ms"])
        try serve.waitUntilReady()
        let tmuxPID = try #require(Int32(try s.tmux(["display-message", "-p", "#{pid}"]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(tmuxPID, SIGSTOP)
        s.onCleanup { kill(tmuxPID, SIGCONT) }
        let starter = try s.spawnMcrun(["start", "AB1", "--", "sleep", "1000"])
        try waitUntil("the launch admitted") { try s.runtimes("AB1").first?.state == .launching }
        try waitUntil("start to call tmux") { !Self.children(of: starter.pid).isEmpty }
        let clients = Self.children(of: starter.pid)
        kill(starter.pid, SIGKILL)
        for c in clients { kill(c, SIGKILL) }
        _ = starter.collect(stdin: nil, timeoutMilliseconds: 5_000)
        #expect(try s.runtimes("AB1").first?.state == .launching)
        kill(tmuxPID, SIGCONT)

        try waitUntil("the launch resolved", timeout: 15) { try s.runtimes("AB1").first?.state != .launching }
        let r = try #require(try s.runtimes("AB1").first)
        switch r.state {
        case .launchFailed:
            #expect(r.endReason == "launcher_gone")
            try waitUntil("no session of AB1 left") { try !s.sessionNames().contains("AB1@1") }
            #expect(processes(withNonce: r.nonce).isEmpty)
        case .running:
            #expect(r.liveness() == .alive)
        default:
            Issue.record("unexpected state \(r.state.rawValue) after an abandoned launch")
        }
        let status = try s.mcrunJSON(["ps"]).json.at("runtimes")?.arrayValue?.first?.at("status")?.stringValue
        #expect(status != "launching" && status != "launch_abandoned", "ps shows \(status ?? "nil")")
        // The ticket can run again.
        _ = try s.mcrun(["stop", "AB1", "--grace", "1s"])
        #expect(try s.mcrun(["start", "AB1", "--", "sleep", "1000"]).status == 0)
    }

    /// A stopper that is alive but frozen past its deadline (its grace plus 30 s): serve
    /// finishes the stop; the stopper, resumed, does not undo it.
    @Test func serveFinishesAStopPastItsDeadline() throws {
        let s = try Scratch(name: "late")
        defer { s.cleanup() }
        let serve = try ServeProcess(s, arguments: ["--reconcile-interval", "200ms"])
        try serve.waitUntilReady()
        let agent = try s.startAgent("LATE", ["sh", "-c", "trap '' TERM; exec sleep 1000"])
        let stopper = try s.spawnMcrun(["stop", "LATE", "--grace", "1s"])
        var stopperReaped = false
        s.onCleanup {
            guard !stopperReaped else { return }
            kill(stopper.pid, SIGCONT)
            kill(stopper.pid, SIGKILL)
            _ = stopper.collect(stdin: nil, timeoutMilliseconds: 5_000)
        }
        try waitUntil("the stop under way") {
            let r = try s.runtimes("LATE").first
            return r?.state == .stopping && r?.stopperPID == stopper.pid
        }
        kill(stopper.pid, SIGSTOP)
        let deadline = try #require(try s.runtimes("LATE").first?.stopDeadline)
        try waitUntil("serve to finish the stop after its deadline", timeout: 45) {
            try !isAlive(agent) && s.runtimes("LATE").first?.state == .stopped
        }
        #expect(WallClock.now() > deadline, "serve must not take over before the deadline")
        #expect(try s.runtimes("LATE").first?.endReason == "stop_resumed")
        kill(stopper.pid, SIGCONT)
        let result = stopper.collect(stdin: nil, timeoutMilliseconds: 15_000)
        stopperReaped = true
        #expect(!result.timedOut)
        #expect(try s.runtimes("LATE").first?.state == .stopped)
        #expect(try s.events("death", ticket: "LATE").isEmpty)
        // The end is recorded before the teardown: the resumed stopper may return first.
        try waitUntil("serve's teardown of the stop it finished", timeout: 15) { try s.runtimes("LATE").first?.teardownOwed == false }
        #expect(try !s.sessionNames().contains("LATE@1"))
    }

    /// A session named for a runtime that has ended is removed, and recorded once.
    @Test func aLeftoverSessionOfAnEndedRuntimeIsRemoved() throws {
        let s = try Scratch(name: "leftover")
        defer { s.cleanup() }
        _ = try s.startAgent("LO", ["sleep", "1000"])
        #expect(try s.mcrun(["stop", "LO", "--grace", "1s"]).status == 0)
        #expect(try s.tmux(["new-session", "-d", "-s", "LO@1", "sleep", "1001"]).status == 0)
        let serve = try ServeProcess(s, arguments: ["--reconcile-interval", "200ms"])
        try serve.waitUntilReady()
        try waitUntil("the leftover session removed", timeout: 10) { try !s.sessionNames().contains("LO@1") }
        try holdsFalse("a second leftover event", for: 1) { try s.events("leftover_session", ticket: "LO").count > 1 }
        let events = try s.events("leftover_session", ticket: "LO")
        #expect(events.count == 1)
        #expect(events.first?.reason == "session_left_behind")
        #expect(try s.events("orphan").isEmpty)
        #expect(try s.runtimes("LO").map(\.state) == [.stopped])
    }

    /// A session nobody started through mcrun is shown by `ps` as an orphan and recorded
    /// once; it is not killed.
    @Test func anOrphanSessionIsShownByPsAndRecordedOnce() throws {
        let s = try Scratch(name: "orphanps")
        defer { s.cleanup() }
        let serve = try ServeProcess(s, arguments: ["--reconcile-interval", "100ms"])
        try serve.waitUntilReady()
        #expect(try s.tmux(["new-session", "-d", "-s", "stray", "sleep", "1000"]).status == 0)
        try waitUntil("an orphan event") { try s.events("orphan").count == 1 }
        try holdsFalse("a second orphan event", for: 1) { try s.events("orphan").count > 1 }
        let (ps, json) = try s.mcrunJSON(["ps"])
        #expect(ps.status == 0)
        let orphans = json.at("orphans")?.arrayValue ?? []
        #expect(orphans.count == 1)
        #expect(orphans.first?.at("session")?.stringValue == "stray")
        #expect(try s.mcrun(["ps"]).stdoutText.contains("orphan"))
        #expect(try s.sessionNames().contains("stray"), "an orphan is reported, not killed")
    }
}

extension Scratch {
    func sessionNames() throws -> [String] {
        let result = try tmux(["list-sessions", "-F", "#{session_name}"])
        guard result.succeeded else { return [] }
        return result.stdoutText.split(separator: "\n").map(String.init)
    }
}

/// Every live process carrying the runtime's nonce in its environment.
func processes(withNonce nonce: String) -> [Int32] {
    let marker = Array("MCRUN_NONCE=\(nonce)".utf8)
    return ProcFS.allPIDs().filter { pid in
        guard let stat = ProcFS.stat(pid), !stat.hasExited else { return false }
        return ProcFS.environ(pid)?.contains(where: { $0 == marker }) ?? false
    }
}
