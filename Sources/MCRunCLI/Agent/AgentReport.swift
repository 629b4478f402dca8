import ArgumentParser
import Foundation
import Glibc
import MCRunCore

/// The one command the shipped agent configurations call. It must never hurt the agent:
/// Claude Code takes exit 2 from `PreToolUse` as "block this tool call" and from
/// `UserPromptSubmit` as "erase this prompt", and adds a `UserPromptSubmit` hook's stdout
/// to the conversation. So it always exits 0, never prints on stdout, and is bounded in
/// time; what goes wrong goes to stderr and to the state directory's agent-reports.log.
struct AgentReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Report the agent's activity from its hook system: reads the hook's JSON on stdin; always exits 0, prints nothing.",
        discussion: """
            For agent configurations (see hooks/claude-code/settings.json, or `mcrun agent setup`).
            Reads the JSON the agent's hook system writes on stdin (Claude Code: hook_event_name,
            session_id, ...) and records what it says: UserPromptSubmit, PreToolUse, PostToolUse ->
            busy; UserPromptSubmit's prompt also confirms the receipt of the message send pasted with
            the same text; Stop -> idle; PermissionRequest and Notification permission_prompt or
            elicitation_dialog -> waiting (send refuses to type into the prompt); Notification
            idle_prompt -> idle; anything else changes nothing. The agent's session_id and
            transcript_path are recorded on the runtime (shown by `show`; an agent_session event
            when they change). An idle report delivers the oldest
            message queued with `send --queue`. Credentials come from the runtime's environment
            (MCRUN_TICKET, MCRUN_EPISODE, MCRUN_NONCE). Outside a runtime it does nothing. It exits
            0 and prints nothing on stdout in every case, within \(Self.deadlineSeconds) seconds; errors
            (a ledger that cannot be reached, a report that is not the live episode's, input
            that is not JSON) go to stderr and to agent-reports.log in the state directory.
            For a strict report with exit codes, use `mcrun activity`.

            Codex (--from codex): its `notify` program gets the event as a JSON argument;
            agent-turn-complete -> idle (thread-id is recorded as the agent's session, its rollout
            file under $CODEX_HOME/sessions as its transcript; its input-messages confirm the
            receipt of the messages send pasted with the same text). Aider
            (--from aider): its --notifications-command runs when a reply has ended and it waits
            for input -> idle. Neither reads stdin, which is the agent's terminal.

            EXAMPLES:
              mcrun agent report            (as a Claude Code hook command; the JSON arrives on stdin)
              echo '{"hook_event_name":"Stop"}' | mcrun agent report
              mcrun agent report --from codex '{"type":"agent-turn-complete","thread-id":"..."}'
              mcrun agent report --from aider
            """)

    @Option(
        help: ArgumentHelp(
            "The agent's form of input: claude-code (the hook's JSON on stdin; the default), codex (the notify JSON as the last argument), aider (none: its notifications command).",
            valueName: "agent"))
    var from: String?

    @Argument(parsing: .allUnrecognized, help: "With --from codex: the JSON Codex appends to the notify command.")
    var payload: [String] = []

    /// The whole report, stdin included, ends within this many seconds, whatever blocks.
    static let deadlineSeconds: UInt32 = 5
    /// Input larger than this is read and dropped: it says nothing a report needs.
    static let inputLimit = 16 << 20

    func run() {
        AgentReportWatchdog.arm(seconds: Self.deadlineSeconds)
        let env = MCRunContext.processEnvironment()
        // Codex and Aider leave the notify program their terminal as stdin: reading it would
        // take the person's keystrokes, so only Claude Code's form reads stdin.
        let fromStdin = from == nil || from == AgentKind.claudeCode.rawValue
        let input = fromStdin ? Self.readInput(limit: Self.inputLimit, milliseconds: 2_000) : []
        // Not inside a runtime: the agent runs on its own, and that is not an error.
        guard ["MCRUN_TICKET", "MCRUN_EPISODE", "MCRUN_NONCE"].contains(where: { env[$0]?.isEmpty == false }) else { return }
        let directory = StateDirectory.resolve(explicit: nil, environment: env)
        var log = AgentReportWatchdog.Log(fd: -1, stderr: fromStdin || isatty(2) == 0)
        if access(directory.path, W_OK) == 0 {
            log.fd = AgentReportLog(directory: directory).open()
            AgentReportWatchdog.logFD = log.fd
        }
        defer { log.close() }
        let ticket = "\(env["MCRUN_TICKET"] ?? "?") episode \(env["MCRUN_EPISODE"] ?? "?")"
        let hook: AgentHookInput
        switch from.flatMap(AgentKind.init(rawValue:)) {
        case .codex:
            guard let last = payload.last, let json = JSONValue.parse(last), json.objectValue != nil else {
                log.write(payload.isEmpty ? "ignored: codex gave no notify argument" : "ignored: codex's notify argument is not a JSON object", ticket: ticket)
                return
            }
            var codex = AgentHookInput.classifyCodex(json)
            // Codex names no transcript; its rollout file of the thread is where it keeps one.
            if let session = codex.session {
                codex.session?.transcriptPath = AgentTranscript.codexRollout(threadID: session.id, environment: env)
            }
            hook = codex
        case .aider:
            hook = AgentHookInput.aiderWaitingForInput
        case .claudeCode, nil:
            guard from == nil || from == AgentKind.claudeCode.rawValue else {
                log.write("ignored: --from \(from ?? "") is not one of claude-code, codex, aider", ticket: ticket)
                return
            }
            guard let bytes = input else {
                log.write("ignored: the hook's input was larger than \(Self.inputLimit) bytes or could not be read", ticket: ticket)
                return
            }
            guard let json = JSONValue.parse(String(decoding: bytes, as: UTF8.self)), json.objectValue != nil else {
                log.write(bytes.isEmpty ? "ignored: the hook gave no input on stdin" : "ignored: the hook's input is not a JSON object", ticket: ticket)
                return
            }
            hook = AgentHookInput.classify(json)
        }
        guard hook.report != nil || hook.session != nil else { return }
        let what = "\(hook.event ?? "?") -> \(hook.report?.rawValue ?? "session")"
        do throws(MCRunError) {
            let credentials = try EpisodeCredentials.fromEnvironment(env)
            guard Ledger.exists(in: directory) else {
                throw MCRunError(.notFound, "no_ledger", "no ledger in \(directory.path); nothing recorded")
            }
            var bounded = env
            bounded["MCRUN_BUSY_TIMEOUT"] = "\(min(Int(Ledger.defaultBusyTimeout(environment: env) * 1000), 2_000))ms"
            let context = try MCRunContext(stateDirectory: directory, environment: bounded, actor: env["MCRUN_ACTOR"] ?? "agent hook (\(hook.event ?? "?"))")
            let recorded = try Activity.record(
                hook.report, detail: hook.detail, session: hook.session, credentials: credentials, ledger: context.ledger, actor: context.actor)
            for prompt in hook.prompts {
                try Self.confirmReceipt(prompt, credentials: credentials, context: context)
            }
            if hook.report == .idle {
                try Sender(context: context).deliverNext(runtimeID: recorded.id!)
            }
        } catch {
            log.write("\(what) not recorded: \(error.description.replacingOccurrences(of: "\n", with: " ")) [\(error.reason)]", ticket: ticket)
        }
    }

    /// The receipt of a prompt: the message `send` pasted with the same text is `confirmed`.
    static func confirmReceipt(_ prompt: String, credentials: EpisodeCredentials, context: MCRunContext) throws(MCRunError) {
        _ = try DeliveryReceipt.record(prompt: prompt, credentials: credentials, ledger: context.ledger, actor: context.actor)
    }

    /// Reads stdin to its end, at most `milliseconds` in all: nil when it was larger than
    /// `limit` (the rest is still drained, so the agent's write never fails) or unreadable;
    /// empty when stdin is a terminal or closed.
    static func readInput(limit: Int, milliseconds: Int) -> [UInt8]? {
        if isatty(0) != 0 { return [] }
        let deadline = Instant.after(milliseconds: milliseconds)
        var bytes: [UInt8] = []
        var overflow = false
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let left = deadline.remainingMilliseconds
            guard left > 0 else { return overflow ? nil : bytes }
            var fds = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            let ready = poll(&fds, 1, Int32(left))
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { return overflow ? nil : bytes }
            let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            if n < 0 { return nil }
            if n == 0 { return overflow ? nil : bytes }
            if bytes.count + n > limit {
                overflow = true
                bytes = []
            } else if !overflow {
                bytes += buffer[0..<n]
            }
        }
    }
}

/// The report's bound in time and its last resort: on the deadline, or on a crash, it
/// says so on stderr and in the log and exits 0, so no state of mcrun can fail the agent.
enum AgentReportWatchdog {
    nonisolated(unsafe) static var logFD: Int32 = -1

    static func arm(seconds: UInt32) {
        signal(SIGPIPE, SIG_IGN)
        for sig in [SIGALRM, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV] {
            signal(sig) { received in
                let message: StaticString =
                    received == SIGALRM
                    ? "mcrun agent report: gave up at its deadline; the report may not be recorded\n"
                    : "mcrun agent report: crashed; the report may not be recorded\n"
                _ = Glibc.write(2, message.utf8Start, message.utf8CodeUnitCount)
                if AgentReportWatchdog.logFD >= 0 { _ = Glibc.write(AgentReportWatchdog.logFD, message.utf8Start, message.utf8CodeUnitCount) }
                _exit(0)
            }
        }
        alarm(seconds)
    }

    struct Log {
        var fd: Int32
        /// Codex gives its notify program its own terminal as stderr: a message there would
        /// be drawn over Codex's screen, so it goes only to the log.
        var stderr = true

        func write(_ message: String, ticket: String) {
            if stderr { Output.write("mcrun agent report: \(message)\n", to: 2) }
            guard fd >= 0 else { return }
            Output.write("\(RuntimeShow.time(WallClock.now())) \(ticket): \(message)\n", to: fd)
        }

        func close() {
            AgentReportWatchdog.logFD = -1
            if fd >= 0 { Glibc.close(fd) }
        }
    }
}
