import Foundation
import Glibc
import LaunchHandshake
import MCRunCore
import MCRunTestSupport
import Testing

/// The pane's shim and its launcher: the agent runs only once its identity is in the
/// ledger, only with the launcher's word, and its environment is in no argv.
@Suite(.serialized, .timeLimit(.minutes(2))) struct LaunchHandshakeTests {
    /// The agent's first act reads the ledger: its own row is already `running`, with its PID.
    @Test func theAgentsFirstInstructionFindsItsIdentityRecorded() throws {
        let s = try Scratch(name: "firstact")
        defer { s.cleanup() }
        let seen = s.path("seen")
        let agent = try s.script(
            "agent",
            """
            #!/bin/sh
            sqlite3 -cmd '.timeout 10000' "$MCRUN_STATE_DIR/ledger.sqlite" "SELECT state || ' ' || pid FROM runtimes WHERE id = $MCRUN_RUNTIME_ID" > '\(seen).tmp' 2>&1
            echo "self $$" >> '\(seen).tmp'
            mv '\(seen).tmp' '\(seen)'
            exec sleep 300
            """)
        let json = try s.startJSON("F1", [agent])
        let pid = try #require(json.at("runtime.pid")?.intValue)
        try waitUntil("the agent wrote what it found", timeout: 10) { FileManager.default.fileExists(atPath: seen) }
        let lines = try String(contentsOfFile: seen, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines == ["running \(pid)", "self \(pid)"], "\(lines)")
    }

    /// The environment travels over the launcher's socket: no argv mcrun hands to tmux, and
    /// not the agent's, holds it.
    @Test func theEnvironmentIsInNoArgv() throws {
        let s = try Scratch(name: "envargv")
        defer { s.cleanup() }
        let calls = s.path("tmux-calls")
        let tmux = try s.script("tmux", "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '\(calls)'\nexec tmux \"$@\"\n")
        s.environment["MCRUN_TMUX"] = tmux
        let json = try s.startJSON("E1", ["sleep", "300"], extra: ["--env", "MCRUN_TEST_SECRET=s3cr3t-value"])
        let pid = Int32(try #require(json.at("runtime.pid")?.intValue))
        let env = try #require(ProcFS.environ(pid)).map { String(decoding: $0, as: UTF8.self) }
        #expect(env.contains("MCRUN_TEST_SECRET=s3cr3t-value"))
        #expect(ProcFS.cmdline(pid) == ["sleep", "300"])
        let argv = try String(contentsOfFile: calls, encoding: .utf8)
        #expect(argv.contains("new-session") && argv.contains("mcrun-shim"), "\(argv)")
        #expect(!argv.contains("s3cr3t"), "\(argv)")
    }

    /// Without `go` the shim never execs: a launcher that goes away after the plan (killed,
    /// or refusing because a stop took the launch over) leaves no agent.
    @Test func aShimExecsOnlyOnTheLaunchersWord() throws {
        let s = try Scratch(name: "nogo")
        defer { s.cleanup() }
        let socketPath = s.path("launch-test.sock")
        let marker = s.path("agent-ran")
        for answer in [nil, LaunchHandshake.Message.refused(message: "taken over by a stop")] {
            let listener = try #require(try? LaunchSocket.listen(at: socketPath).get())
            defer { close(listener) }
            let shim = try Subprocess.spawn([Scratch.binDirectory + "/mcrun-shim", socketPath], workingDirectory: s.directory)
            var ready = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            #expect(poll(&ready, 1, 10_000) == 1, "the shim did not connect")
            let fd = LaunchSocket.accept(listener)
            #expect(fd >= 0)
            #expect(LaunchSocket.peer(fd)?.pid == shim.pid, "the kernel names the shim as the peer")
            LaunchSocket.setTimeout(fd, milliseconds: 10_000)
            #expect(LaunchHandshake.send(.plan(cwd: s.directory, argv: ["touch", marker], environment: ["PATH=/usr/bin:/bin"]), on: fd))
            #expect(LaunchHandshake.receive(on: fd) == .ready)
            if let answer { #expect(LaunchHandshake.send(answer, on: fd)) }
            close(fd)
            let result = shim.collect(stdin: nil, timeoutMilliseconds: 10_000)
            #expect(result.status == 1, "\(result.stderrText)")
            #expect(result.stderrText.contains("not started") || result.stderrText.contains("taken over"), "\(result.stderrText)")
            #expect(!FileManager.default.fileExists(atPath: marker), "the agent ran without the launcher's go")
        }
    }

    /// A shim that cannot reach its launcher says so and runs nothing.
    @Test func aShimWithoutItsLauncherRunsNothing() throws {
        let s = try Scratch(name: "nolauncher")
        defer { s.cleanup() }
        let result = try Subprocess.run([Scratch.binDirectory + "/mcrun-shim", s.path("launch-gone.sock")], timeoutMilliseconds: 10_000)
        #expect(result.status == 1)
        #expect(result.stderrText.contains("cannot reach the launcher"), "\(result.stderrText)")
    }

    /// Without its shim a start fails at once and says what to install; nothing is left live.
    @Test func aMissingShimFailsTheStartWithTheFix() throws {
        let s = try Scratch(name: "noshim")
        defer { s.cleanup() }
        s.environment["MCRUN_SHIM_BIN"] = s.path("no-such-shim")
        let (result, json) = try s.mcrunJSON(["start", "M1", "--", "sleep", "300"])
        #expect(result.status == 1, "\(result.stderrText)")
        #expect(json["reason"]?.stringValue == "launch_failed")
        #expect(result.stderrText.contains("MCRUN_SHIM_BIN"), "\(result.stderrText)")
        #expect(try s.context().ledger.runtime(ticket: "M1", episode: nil)?.state == .launchFailed)
        #expect(try s.context().ledger.runtime(ticket: "M1", episode: nil)?.endReason == "shim_missing")
        s.environment["MCRUN_SHIM_BIN"] = nil
        let (again, _) = try s.mcrunJSON(["start", "M1", "--", "sleep", "300"])
        #expect(again.status == 0, "\(again.stderrText)")
    }

    /// Every message survives the trip, a long environment included.
    @Test func messagesRoundTrip() throws {
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer {
            close(pair[0])
            close(pair[1])
        }
        let environment = (0..<2000).map { "VARIABLE_\($0)=" + String(repeating: "x", count: $0 % 50) + "=é\n" }
        let messages: [LaunchHandshake.Message] = [
            .plan(cwd: "/tmp/a b", argv: ["claude", "", "--flag=ü"], environment: environment), .ready,
            .failed(reason: "bad_cwd", message: "cannot enter /x"), .go, .refused(message: "stopped"), .execFailed(reason: "Exec format error"),
        ]
        let (sending, receiving) = (pair[0], pair[1])
        for message in messages {
            // Sent from a thread of its own: the plan is larger than the socket's buffer.
            let sender = Thread { _ = LaunchHandshake.send(message, on: sending) }
            sender.start()
            #expect(LaunchHandshake.receive(on: receiving) == message)
        }
    }
}
