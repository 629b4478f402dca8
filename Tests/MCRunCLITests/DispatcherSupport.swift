import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// An agent that behaves like an interactive coding agent as far as mcrun can see: it puts
/// its terminal in raw mode (no echo, no line discipline, so bytes arrive exactly as
/// typed), asks for bracketed paste like real agents do, records every byte it reads, and
/// reports its turns through `mcrun activity`. A turn starts when a pasted message
/// is submitted (ESC[201~ then CR) and ends when the test creates the `.go` file, or when
/// the interrupt key (a lone ESC) arrives.
let recordingAgent = #"""
    import os, select, subprocess, sys, tty
    out_path, mcrun = sys.argv[1], sys.argv[2]
    hooks = sys.argv[3:] != ["nohooks"]
    go_path = out_path + ".go"
    tty.setraw(0)
    os.write(1, b"\x1b[?2004h")
    def report(state):
        if hooks:
                subprocess.run([mcrun, "activity", state], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report("idle")
    os.write(1, b"ready\r\n")
    END = b"\x1b[201~\r"
    buf = b""
    busy = False
    with open(out_path, "ab", buffering=0) as out:
        while True:
            if busy and os.path.exists(go_path):
                os.unlink(go_path)
                busy = False
                report("idle")
            ready, _, _ = select.select([0], [], [], 0.02)
            if not ready:
                continue
            chunk = os.read(0, 1 << 16)
            if not chunk:
                break
            out.write(chunk)
            if busy and chunk == b"\x1b":
                busy = False
                report("idle")
                continue
            buf += chunk
            while END in buf:
                buf = buf.split(END, 1)[1]
                busy = True
                report("busy")
    """#

struct RecordingAgent {
    let scratch: Scratch
    let ticket: String
    let output: String

    /// Starts the agent for `ticket` and waits until it has asked for bracketed paste
    /// (its "ready" line is on the screen, so tmux has parsed the request before it).
    static func start(_ s: Scratch, ticket: String, extra: [String] = [], hooks: Bool = true) throws -> (RecordingAgent, JSONValue) {
        let script = try s.write("agent.py", recordingAgent)
        let output = s.path("\(ticket).rec")
        let (result, json) = try startJSON(s, ticket, extra, command: ["python3", script, output, Scratch.mcrunPath] + (hooks ? [] : ["nohooks"]))
        try #require(result.status == 0, "start failed: \(result.stderrText)")
        let agent = RecordingAgent(scratch: s, ticket: ticket, output: output)
        try waitUntil("the agent of \(ticket) is ready") {
            let screen = try s.tmux(["capture-pane", "-p", "-t", json.at("runtime.pane")?.stringValue ?? "-"]).stdoutText
            return screen.contains("ready")
        }
        if hooks {
            try waitUntil("the agent of \(ticket) reported idle through its hook") {
                try agent.runtime().busySource == "hook"
            }
        }
        return (agent, json)
    }

    var recorded: [UInt8] { (FileManager.default.contents(atPath: output).map { [UInt8]($0) }) ?? [] }

    func runtime() throws -> Runtime {
        let ticket = self.ticket
        return try #require(try scratch.context().ledger.runtime(ticket: ticket, episode: nil))
    }

    /// Ends the agent's current turn; its idle report delivers the next queued message.
    func finishTurn() throws {
        guard FileManager.default.createFile(atPath: output + ".go", contents: Data()) else {
            throw ScratchError("cannot create \(output).go")
        }
        try waitUntil("the agent consumed the end of its turn") { !FileManager.default.fileExists(atPath: output + ".go") }
    }

    func waitForRecording(_ expected: [UInt8], timeout: Double = 15) throws {
        try waitUntil("the agent recorded \(expected.count) bytes (has \(recorded.count))", timeout: timeout) { recorded.count >= expected.count }
    }
}

/// What an agent that enabled bracketed paste reads for one `send`: the paste markers
/// around the exact bytes, then Enter (CR).
func pasted(_ message: [UInt8]) -> [UInt8] {
    Array("\u{1b}[200~".utf8) + message + Array("\u{1b}[201~\r".utf8)
}

/// Every live process carrying the runtime's nonce in its environment: the agent and
/// everything it started, even after a double fork and setsid.
func processes(withNonce nonce: String) -> [Int32] {
    let marker = Array("MCRUN_NONCE=\(nonce)".utf8)
    return ProcFS.allPIDs().filter { pid in
        guard let stat = ProcFS.stat(pid), !stat.hasExited else { return false }
        return ProcFS.environ(pid)?.contains(where: { $0 == marker }) ?? false
    }
}

func sessions(_ s: Scratch) throws -> [String] {
    let result = try s.tmux(["list-sessions", "-F", "#{session_name}"])
    guard result.succeeded else { return [] }
    return result.stdoutText.split(separator: "\n").map(String.init)
}

func runtimeCount(_ s: Scratch, ticket: String) throws -> Int {
    let (_, json) = try s.mcrunJSON(["show", ticket])
    return json.at("episodes")?.arrayValue?.count ?? 0
}

extension Subprocess.Result {
    /// The error object `--json` prints on failure.
    var errorJSON: JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(stdoutText.utf8))
    }
}

/// `mcrun start ... --json -- COMMAND`: `--json` must come before the command's `--`,
/// which `Scratch.mcrunJSON` (appending it last) cannot do.
func startJSON(_ s: Scratch, _ ticket: String, _ options: [String] = [], command: [String]) throws -> (result: Subprocess.Result, json: JSONValue) {
    try runJSON(s, ["start", ticket] + options + ["--json", "--"] + command)
}

/// Runs mcrun with `args` as given (they carry `--json` themselves) and parses its one object.
func runJSON(_ s: Scratch, _ args: [String]) throws -> (result: Subprocess.Result, json: JSONValue) {
    let result = try s.mcrun(args)
    let lines = result.stdoutText.split(separator: "\n")
    guard lines.count == 1, let json = try? JSONDecoder().decode(JSONValue.self, from: Data(lines[0].utf8)) else {
        throw ScratchError(
            "mcrun \(args.joined(separator: " ")) did not print exactly one JSON object: stdout=\(result.stdoutText.debugDescription) stderr=\(result.stderrText.debugDescription)"
        )
    }
    return (result, json)
}
