import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// The commands the shipped agent configurations call must never hurt the agent: Claude
/// Code blocks a tool call on exit 2 from PreToolUse, erases the prompt on exit 2 from
/// UserPromptSubmit, and adds a UserPromptSubmit hook's stdout to the conversation.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct AgentReportTests {
    /// Every `command` in every shipped agent configuration (hooks/*/settings.json).
    static func shippedCommands() throws -> [String] {
        let hooks = Scratch.packageRoot + "/hooks"
        var commands: [String] = []
        for agent in try FileManager.default.contentsOfDirectory(atPath: hooks).sorted() {
            let path = "\(hooks)/\(agent)/settings.json"
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            let json = try JSONDecoder().decode(JSONValue.self, from: data)
            for (_, groups) in json["hooks"]?.objectValue ?? [:] {
                for group in groups.arrayValue ?? [] {
                    for hook in group["hooks"]?.arrayValue ?? [] {
                        if let command = hook["command"]?.stringValue { commands.append(command) }
                    }
                }
            }
        }
        return Array(Set(commands)).sorted()
    }

    /// The notify program of the shipped Codex configuration (hooks/codex/config.toml): the
    /// argv Codex runs, without a shell, with the event's JSON appended.
    static func codexNotify() throws -> [String] {
        let text = try String(contentsOfFile: Scratch.packageRoot + "/hooks/codex/config.toml", encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("notify =") })
        let array = try JSONDecoder().decode([String].self, from: Data(line.dropFirst("notify =".count).utf8))
        return array
    }

    /// The notifications command of the shipped Aider configuration (hooks/aider/aider.conf.yml),
    /// which Aider runs through a shell.
    static func aiderCommand() throws -> String {
        let text = try String(contentsOfFile: Scratch.packageRoot + "/hooks/aider/aider.conf.yml", encoding: .utf8)
        #expect(text.split(separator: "\n").contains("notifications: true"), "Aider runs the command only with notifications on")
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("notifications-command:") })
        return line.dropFirst("notifications-command:".count).trimmingCharacters(in: .whitespaces)
    }

    /// What Codex appends to the notify program's argv, per event, plus arguments no Codex sends.
    static func codexPayloads(thread: String = "0199a213-81c0-7800-8aa1-bbab2a035a53") -> [(String, [String])] {
        let common = #""thread-id":"\#(thread)","turn-id":"1","cwd":"/home/u/p","input-messages":["fix the parser; exit 2"]"#
        var out: [(String, [String])] = [
            "agent-turn-complete", "agent-turn-start", "approval-requested", "some-later-event",
        ].map { type in
            let extra = type == "agent-turn-complete" ? #","last-assistant-message":"Done.","client":"codex-tui""# : ""
            return (type, [#"{"type":"\#(type)",\#(common)\#(extra)}"#])
        }
        out.append(("no argument", []))
        out.append(("not JSON", ["exit 2"]))
        out.append(("two arguments", ["--unknown-flag", #"{"type":"agent-turn-complete"}"#]))
        out.append(("a 100 KB message", [#"{"type":"agent-turn-complete","last-assistant-message":""# + String(repeating: "x", count: 100_000) + #""}"#]))
        return out
    }

    /// Runs the notify program as Codex does: the argv directly, the JSON as one more argument.
    static func runNotify(_ argv: [String], _ arguments: [String], environment: [String: String]) throws -> Subprocess.Result {
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("MCRUN_") || key == "TMUX" || key == "TMUX_PANE" { env[key] = nil }
        env["PATH"] = Scratch.binDirectory + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        for (k, v) in environment { env[k] = v }
        let program = try #require(Executable.resolve(argv[0], path: env["PATH"], cwd: "/"))
        return try Subprocess.run(
            [program] + argv.dropFirst() + arguments, stdin: Array("typed by a person\n".utf8), environment: env.map { "\($0.key)=\($0.value)" },
            timeoutMilliseconds: 20_000)
    }

    /// What Claude Code writes on a hook's stdin, per event, plus input no agent should send.
    static func payloads(session: String = "5f1c9a2e-0000-4000-8000-000000000001") -> [(String, [UInt8])] {
        let common =
            #""session_id":"\#(session)","transcript_path":"/home/u/.claude/projects/p/\#(session).jsonl","cwd":"/home/u/p","permission_mode":"default""#
        let events = [
            #"{\#(common),"hook_event_name":"UserPromptSubmit","prompt":"fix the parser; exit 2"}"#,
            #"{\#(common),"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"make test","description":"run tests"},"tool_use_id":"toolu_01"}"#,
            #"{\#(common),"hook_event_name":"PermissionRequest","tool_name":"Bash","tool_input":{"command":"rm -rf build"}}"#,
            #"{\#(common),"hook_event_name":"Notification","message":"Claude needs your permission to use Bash","notification_type":"permission_prompt"}"#,
            #"{\#(common),"hook_event_name":"Notification","message":"Claude is waiting for your input","notification_type":"idle_prompt"}"#,
            #"{\#(common),"hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{"command":"make test"},"tool_response":{"stdout":"ok"}}"#,
            #"{\#(common),"hook_event_name":"Stop","stop_hook_active":false,"last_assistant_message":"Done."}"#,
            #"{\#(common),"hook_event_name":"SessionStart","source":"startup"}"#,
        ]
        var out = events.map { text in (text, Array(text.utf8)) }
        out.append(("empty stdin", []))
        out.append(("not JSON", Array("exit 2\n".utf8)))
        out.append(("a JSON array", Array("[1,2]".utf8)))
        let big =
            #"{\#(common),"hook_event_name":"PreToolUse","tool_name":"Write","tool_input":{"content":""# + String(repeating: "x", count: 3 << 20) + #""}}"#
        out.append(("a 3 MB tool input", Array(big.utf8)))
        return out
    }

    /// Runs a hook command as Claude Code does: through a shell, with `mcrun` on PATH.
    static func runHook(_ command: String, stdin: [UInt8], environment: [String: String]) throws -> Subprocess.Result {
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("MCRUN_") || key == "TMUX" || key == "TMUX_PANE" { env[key] = nil }
        env["PATH"] = Scratch.binDirectory + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        for (k, v) in environment { env[k] = v }
        return try Subprocess.run(["sh", "-c", command], stdin: stdin, environment: env.map { "\($0.key)=\($0.value)" }, timeoutMilliseconds: 20_000)
    }

    @Test func shippedConfigurationCallsOnlyTheReport() throws {
        let commands = try Self.shippedCommands()
        #expect(commands == ["mcrun agent report"])
        let data = try #require(FileManager.default.contents(atPath: Scratch.packageRoot + "/hooks/claude-code/settings.json"))
        let json = try JSONDecoder().decode(JSONValue.self, from: data)
        let events = Set(json["hooks"]?.objectValue?.keys.map { $0 } ?? [])
        #expect(events == ["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PermissionRequest", "Notification", "Stop"])
        #expect(try Self.codexNotify() == ["mcrun", "agent", "report", "--from", "codex"])
        #expect(try Self.aiderCommand() == "mcrun agent report --from aider")
    }

    @Test func everyShippedCommandOutsideARuntimeExitsZeroSilently() throws {
        let s = try Scratch(name: "hookout")
        defer { s.cleanup() }
        let commands = try Self.shippedCommands()
        try #require(!commands.isEmpty)
        // Outside a runtime: no MCRUN_* at all, a home of its own; nothing may be created there.
        let home = s.path("home")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        for command in commands {
            for (name, payload) in Self.payloads() {
                let result = try Self.runHook(command, stdin: payload, environment: ["HOME": home, "XDG_STATE_HOME": home + "/state"])
                #expect(
                    result.status == 0 && result.signal == nil && !result.timedOut,
                    "\(command) with \(name.prefix(60)): status \(result.status), stderr \(result.stderrText)")
                #expect(result.stdout.isEmpty, "\(command) with \(name.prefix(60)) printed on stdout: \(result.stdoutText.prefix(200))")
            }
        }
        // Codex's notify program, with each argument Codex appends; Aider's command, with none.
        let notify = try Self.codexNotify()
        for (name, arguments) in Self.codexPayloads() {
            let result = try Self.runNotify(notify, arguments, environment: ["HOME": home, "XDG_STATE_HOME": home + "/state"])
            #expect(result.status == 0 && result.signal == nil && !result.timedOut, "codex \(name): status \(result.status), stderr \(result.stderrText)")
            #expect(result.stdout.isEmpty, "codex \(name) printed on stdout: \(result.stdoutText.prefix(200))")
        }
        let aider = try Self.aiderCommand()
        for stdin in [[], Array("typed by a person\n".utf8)] {
            let result = try Self.runHook(aider, stdin: stdin, environment: ["HOME": home, "XDG_STATE_HOME": home + "/state"])
            #expect(result.status == 0 && result.signal == nil && !result.timedOut, "aider: status \(result.status), stderr \(result.stderrText)")
            #expect(result.stdout.isEmpty, "aider printed on stdout: \(result.stdoutText.prefix(200))")
        }
        // A command line this mcrun does not understand (a configuration written for another
        // version) must not fail the agent either.
        for line in ["mcrun agent report --from", "mcrun agent report --from nosuch", "mcrun agent report --no-such-flag x --"] {
            let result = try Self.runHook(line, stdin: [], environment: ["HOME": home, "XDG_STATE_HOME": home + "/state"])
            #expect(result.status == 0 && result.stdout.isEmpty, "\(line): status \(result.status), stdout \(result.stdoutText)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: home).isEmpty, "a report outside a runtime created files")
        // Credentials of a runtime that does not exist, in a state directory that does not exist.
        for (name, payload) in Self.payloads().prefix(3) {
            let result = try Self.runHook(
                commands[0], stdin: payload,
                environment: [
                    "MCRUN_TICKET": "GHOST-1", "MCRUN_EPISODE": "1", "MCRUN_NONCE": "0000", "MCRUN_STATE_DIR": s.path("nowhere"),
                ])
            #expect(result.status == 0 && result.stdout.isEmpty, "\(name.prefix(40)): \(result.status) \(result.stdoutText)")
        }
        let ghost = ["MCRUN_TICKET": "GHOST-1", "MCRUN_EPISODE": "1", "MCRUN_NONCE": "0000", "MCRUN_STATE_DIR": s.path("nowhere")]
        for (name, arguments) in Self.codexPayloads().prefix(2) {
            let result = try Self.runNotify(notify, arguments, environment: ghost)
            #expect(result.status == 0 && result.stdout.isEmpty, "codex \(name): \(result.status) \(result.stdoutText)")
        }
        let result = try Self.runHook(aider, stdin: [], environment: ghost)
        #expect(result.status == 0 && result.stdout.isEmpty, "aider: \(result.status) \(result.stdoutText)")
        #expect(!FileManager.default.fileExists(atPath: s.path("nowhere")), "a report created a state directory")
    }

    /// The runtime's own credentials, as its hooks inherit them.
    static func credentials(_ s: Scratch, ticket: String) throws -> [String: String] {
        let runtime = try #require(try s.context().ledger.runtime(ticket: ticket, episode: nil))
        return ["MCRUN_TICKET": ticket, "MCRUN_EPISODE": String(runtime.episode), "MCRUN_NONCE": runtime.nonce, "MCRUN_STATE_DIR": s.stateDir]
    }

    static func activity(_ s: Scratch, _ ticket: String) throws -> JSONValue? {
        let (_, ps) = try s.mcrunJSON(["ps"])
        return ps.at("runtimes")?.arrayValue?.first { $0.at("ticket")?.stringValue == ticket }
    }

    @Test func insideARuntimeAnUnreachableLedgerNeverFailsTheAgent() throws {
        let s = try Scratch(name: "hooklock")
        defer { s.cleanup() }
        try #require(try s.mcrun(["start", "L1", "--", "sleep", "1000"]).status == 0)
        var env = try Self.credentials(s, ticket: "L1")
        env["MCRUN_BUSY_TIMEOUT"] = "200ms"
        let command = try #require(try Self.shippedCommands().first)
        let prompt = Self.payloads()[0].1

        // Another process holds the ledger's write lock.
        // It holds it until its stdin closes.
        let marker = s.path("locked")
        let holder = try Subprocess.spawn(
            [
                "python3", "-c",
                "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1],isolation_level=None)\nc.execute('BEGIN IMMEDIATE')\nopen(sys.argv[2],'w').close()\nsys.stdin.read()",
                s.stateDir + "/ledger.sqlite", marker,
            ],
            environment: s.processEnvironment, workingDirectory: s.directory)
        try waitUntil("the lock holder took the ledger's write lock", timeout: 20) { FileManager.default.fileExists(atPath: marker) }
        for (name, payload) in Self.payloads().prefix(7) {
            let result = try Self.runHook(command, stdin: payload, environment: env)
            #expect(result.status == 0 && !result.timedOut, "\(name.prefix(50)) under a held lock: status \(result.status)")
            #expect(result.stdout.isEmpty, "\(name.prefix(50)) printed: \(result.stdoutText)")
        }
        let locked1 = try Self.runHook(command, stdin: prompt, environment: env)
        #expect(locked1.stderrText.contains("not recorded"), "stderr: \(locked1.stderrText)")
        _ = holder.collect(stdin: nil, timeoutMilliseconds: 10_000)
        let log = (try? String(contentsOfFile: s.stateDir + "/agent-reports.log", encoding: .utf8)) ?? ""
        #expect(log.contains("L1 episode 1") && log.contains("ledger"), "agent-reports.log: \(log)")

        // Lock released: the same report is recorded, still silently.
        let ok = try Self.runHook(command, stdin: prompt, environment: env)
        #expect(ok.status == 0 && ok.stdout.isEmpty && ok.stderr.isEmpty, "stderr: \(ok.stderrText)")
        #expect(try Self.activity(s, "L1")?.at("activity")?.stringValue == "busy")

        // A ledger that cannot be written at all (immutable file).
        let ledger = s.stateDir + "/ledger.sqlite"
        try #require(try Subprocess.run(["chattr", "+i", ledger]).succeeded, "chattr +i is not available here")
        s.onCleanup { _ = try? Subprocess.run(["chattr", "-i", ledger]) }
        for (name, payload) in Self.payloads().prefix(7) {
            let result = try Self.runHook(command, stdin: payload, environment: env)
            #expect(
                result.status == 0 && !result.timedOut && result.stdout.isEmpty,
                "\(name.prefix(50)) on an immutable ledger: status \(result.status), stdout \(result.stdoutText)")
        }
        _ = try Subprocess.run(["chattr", "-i", ledger])
        // Its Stop and idle_prompt reports were not recorded: still busy.
        #expect(try Self.activity(s, "L1")?.at("activity")?.stringValue == "busy")

        // A report that is not the live episode's: recorded as rejected, the agent unharmed.
        var wrong = env
        wrong["MCRUN_NONCE"] = "0000"
        let rejected = try Self.runHook(command, stdin: Self.payloads()[6].1, environment: wrong)
        #expect(rejected.status == 0 && rejected.stdout.isEmpty)
        #expect(rejected.stderrText.contains("bad_nonce"), "stderr: \(rejected.stderrText)")
        #expect(try Self.activity(s, "L1")?.at("activity")?.stringValue == "busy")
    }

    /// Whatever blocks a report (here: another send holding the runtime's send lock while
    /// the Stop report wants to deliver a queued message), it ends at its deadline with
    /// exit 0 and nothing on stdout. What it recorded before that stays recorded.
    @Test func aBlockedReportGivesUpAtItsDeadline() throws {
        let s = try Scratch(name: "hookslow")
        defer { s.cleanup() }
        try #require(try s.mcrun(["start", "D1", "--", "sleep", "1000"]).status == 0)
        let env = try Self.credentials(s, ticket: "D1")
        let command = try #require(try Self.shippedCommands().first)
        let payloads = Self.payloads()
        #expect(try Self.runHook(command, stdin: payloads[0].1, environment: env).status == 0)
        #expect(try Self.activity(s, "D1")?.at("activity")?.stringValue == "busy")
        let (queued, _) = try s.mcrunJSON(["send", "D1", "--queue", "later"])
        #expect(queued.status == 0)

        let runtimeID = try #require(try s.context().ledger.runtime(ticket: "D1", episode: nil)?.id)
        let marker = s.path("held")
        let holder = try Subprocess.spawn(
            [
                "python3", "-c",
                "import fcntl,os,sys\nos.makedirs(os.path.dirname(sys.argv[1]),exist_ok=True)\nf=open(sys.argv[1],'a')\nfcntl.flock(f,fcntl.LOCK_EX)\nopen(sys.argv[2],'w').close()\nsys.stdin.read()",
                "\(s.stateDir)/locks/send-\(runtimeID).lock", marker,
            ],
            environment: s.processEnvironment, workingDirectory: s.directory)
        try waitUntil("the send lock is held", timeout: 20) { FileManager.default.fileExists(atPath: marker) }
        let started = Instant.now
        let stop = try Self.runHook(command, stdin: payloads[6].1, environment: env)
        let seconds = (Instant.now - started).seconds
        _ = holder.collect(stdin: nil, timeoutMilliseconds: 10_000)
        #expect(stop.status == 0 && !stop.timedOut && stop.stdout.isEmpty, "status \(stop.status), stdout \(stop.stdoutText)")
        #expect(stop.stderrText.contains("gave up at its deadline"), "stderr: \(stop.stderrText)")
        #expect(seconds < 9, "the report took \(seconds) s; its deadline is 5 s")
        let log = (try? String(contentsOfFile: s.stateDir + "/agent-reports.log", encoding: .utf8)) ?? ""
        #expect(log.contains("gave up at its deadline"), "agent-reports.log: \(log)")
        // The idle report was committed before the delivery blocked; the message still waits.
        #expect(try Self.activity(s, "D1")?.at("activity")?.stringValue == "idle")
        let (_, show) = try s.mcrunJSON(["show", "D1"])
        #expect(show.at("queue")?.arrayValue?.compactMap { $0.at("state")?.stringValue } == ["pending"])
    }

    /// Someone must hear of an agent waiting for approval: the `waiting` event reaches an
    /// event hook named `any` (and one named `waiting`).
    @Test func aWaitingAgentReachesTheEventHooks() throws {
        let s = try Scratch(name: "hookevent")
        defer { s.cleanup() }
        try #require(try s.mcrun(["start", "E1", "--", "sleep", "1000"]).status == 0)
        let env = try Self.credentials(s, ticket: "E1")
        let command = try #require(try Self.shippedCommands().first)
        #expect(try Self.runHook(command, stdin: Self.payloads()[2].1, environment: env).status == 0)
        let hooks = s.path("event-hooks")
        try FileManager.default.createDirectory(atPath: hooks, withIntermediateDirectories: true)
        for name in ["any", "waiting"] {
            _ = try s.write("event-hooks/\(name)", "#!/bin/sh\ncat >> \(s.path(name + ".received"))\necho >> \(s.path(name + ".received"))\n", mode: 0o755)
        }
        let run = try s.mcrun(["event-hooks", "deliver", "--once", "--hooks-dir", hooks])
        #expect(run.status == 0, "\(run.stderrText)")
        for name in ["any", "waiting"] {
            let lines = ((try? String(contentsOfFile: s.path(name + ".received"), encoding: .utf8)) ?? "").split(separator: "\n")
            let events = lines.compactMap { JSONValue.parse(String($0)) }
            let waiting = events.filter { $0.at("kind")?.stringValue == "waiting" }
            #expect(waiting.count == 1, "\(name) received: \(lines)")
            #expect(waiting.first?.at("ticket")?.stringValue == "E1")
            #expect(waiting.first?.at("reason")?.stringValue == "permission_prompt")
        }
    }

    /// A stand-in for Claude Code in a real runtime: each line typed into its pane names a
    /// step; it runs the shipped hook command with the JSON Claude Code writes for that
    /// event on stdin, as Claude Code does. Lines without a step file are what was typed
    /// into it (a delivered message).
    static let standIn = #"""
        dir=$1; export PATH="$2:$PATH"; hook=$3
        echo ready
        while IFS= read -r step; do
          if [ -f "$dir/$step.json" ]; then
            sh -c "$hook" < "$dir/$step.json" > "$dir/$step.out" 2> "$dir/$step.err"
            echo $? > "$dir/$step.tmp"; mv "$dir/$step.tmp" "$dir/$step.rc"
          else
            printf '%s\n' "$step" >> "$dir/typed"
          fi
        done
        """#

    @Test func standInAgentShowsBusyIdleAndWaitingAndSendHoldsBack() throws {
        let s = try Scratch(name: "hookwait")
        defer { s.cleanup() }
        let command = try #require(try Self.shippedCommands().first)
        let script = try s.script("claude-stand-in.sh", Self.standIn)
        let dir = s.path("steps")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let (started, json) = try startJSON(s, "W1", command: ["sh", script, dir, Scratch.binDirectory, command])
        try #require(started.status == 0, "start: \(started.stderrText)")
        let pane = try #require(json.at("runtime.pane")?.stringValue)
        try waitUntil("the stand-in agent is ready") { try s.tmux(["capture-pane", "-p", "-t", pane]).stdoutText.contains("ready") }
        let payloads = Dictionary(
            uniqueKeysWithValues: Self.payloads().prefix(8).map { text, bytes in
                (String(text.split(separator: "\"hook_event_name\":\"")[1].prefix { $0 != "\"" }) + (text.contains("idle_prompt") ? "-idle" : ""), bytes)
            })

        func step(_ name: String, _ event: String) throws {
            let payload = try #require(payloads[event], "no payload for \(event)")
            #expect(FileManager.default.createFile(atPath: "\(dir)/\(name).json", contents: Data(payload)))
            #expect(try s.tmux(["send-keys", "-t", pane, "-l", name]).succeeded)
            #expect(try s.tmux(["send-keys", "-t", pane, "Enter"]).succeeded)
            try waitUntil("the stand-in ran its \(event) hook (\(name))", timeout: 20) { FileManager.default.fileExists(atPath: "\(dir)/\(name).rc") }
            let rc = try String(contentsOfFile: "\(dir)/\(name).rc", encoding: .utf8)
            #expect(rc == "0\n", "\(event) hook exited \(rc)")
            #expect(FileManager.default.contents(atPath: "\(dir)/\(name).out")?.isEmpty == true, "\(event) hook printed on stdout")
            #expect(
                FileManager.default.contents(atPath: "\(dir)/\(name).err")?.isEmpty == true,
                "\(event) hook: \(String(decoding: FileManager.default.contents(atPath: "\(dir)/\(name).err") ?? Data(), as: UTF8.self))")
        }
        func activity() throws -> String? { try Self.activity(s, "W1")?.at("activity")?.stringValue }
        func events(_ kind: String) throws -> Int {
            let (_, show) = try s.mcrunJSON(["show", "W1", "--events", "1000"])
            return show.at("events")?.arrayValue?.filter { $0.at("kind")?.stringValue == kind }.count ?? -1
        }
        var typed: String { (try? String(contentsOfFile: dir + "/typed", encoding: .utf8)) ?? "" }

        // The session start records the agent's own session and says nothing about activity.
        try step("s0", "SessionStart")
        let session = try #require(try Self.activity(s, "W1"))
        #expect(session.at("agent_session_id")?.stringValue == "5f1c9a2e-0000-4000-8000-000000000001")
        #expect(session.at("agent_transcript_path")?.stringValue == "/home/u/.claude/projects/p/5f1c9a2e-0000-4000-8000-000000000001.jsonl")
        #expect(session.at("busy_source")?.stringValue != "hook")
        #expect(try s.mcrun(["show", "W1"]).stdoutText.contains("agent session: 5f1c9a2e-0000-4000-8000-000000000001, transcript /home/u/"))
        #expect(try events("agent_session") == 1)

        try step("s1", "UserPromptSubmit")
        #expect(try activity() == "busy")
        #expect(try Self.activity(s, "W1")?.at("busy_source")?.stringValue == "hook")
        #expect(try events("agent_session") == 1)
        try step("s2", "PreToolUse")
        #expect(try activity() == "busy")

        // A permission dialog: waiting, shown everywhere, and send will not type into it.
        try step("s3", "PermissionRequest")
        let waiting = try #require(try Self.activity(s, "W1"))
        #expect(waiting.at("activity")?.stringValue == "waiting")
        #expect(waiting.at("waiting")?.boolValue == true)
        #expect(waiting.at("waiting_for")?.stringValue == "permission_prompt")
        #expect(waiting.at("busy")?.boolValue == true)
        #expect(try s.mcrun(["ps"]).stdoutText.contains("waiting"))
        #expect(try s.mcrun(["show", "W1"]).stdoutText.contains("waiting for a person (permission_prompt)"))
        let (refused, refusal) = try s.mcrunJSON(["send", "W1", "hello"])
        #expect(refused.status == 4)
        #expect(refusal.at("reason")?.stringValue == "agent_waiting")
        #expect(refused.stderrText.contains("waiting for a person"), "\(refused.stderrText)")
        let (queued, queuedJSON) = try s.mcrunJSON(["send", "W1", "--queue", "queued-note"])
        #expect(queued.status == 0)
        #expect(queuedJSON.at("delivered")?.boolValue == false)
        // The Notification that accompanies the dialog keeps it waiting, without a second event.
        try step("s4", "Notification")
        #expect(try activity() == "waiting")
        #expect(try events("waiting") == 1)
        #expect(try events("waiting_ended") == 0)

        // Approved: the tool ran, the agent works again; the queue still waits for idle.
        try step("s5", "PostToolUse")
        #expect(try activity() == "busy")
        #expect(try Self.activity(s, "W1")?.at("waiting")?.boolValue == false)
        #expect(try events("waiting_ended") == 1)
        #expect(!typed.contains("hello") && !typed.contains("queued-note"), "typed: \(typed)")

        // End of turn: idle, and the queued message is typed (the agent is busy with it).
        try step("s6", "Stop")
        try waitUntil("the queued message reached the agent") { typed.contains("queued-note") }
        #expect(!typed.contains("hello"))
        #expect(try activity() == "busy")
        try step("s7", "Stop")
        #expect(try activity() == "idle")

        // A permission notification alone is waiting too; idle_prompt (sitting at the
        // prompt) leaves it: that is where send types.
        try step("s8", "Notification")
        #expect(try activity() == "waiting")
        try step("s9", "Notification-idle")
        #expect(try activity() == "idle")
        #expect(try events("waiting") == 2)
        #expect(try s.mcrun(["send", "W1", "after-idle"]).status == 0)
        try waitUntil("a plain send reached the idle agent") { typed.contains("after-idle") }
    }
}
