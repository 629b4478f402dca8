import CLinux
import Glibc
import LaunchHandshake

// The pane's only process before the agent: `mcrun-shim SOCKET`, run by tmux. It takes the
// agent's plan from the launcher, prepares, waits until the launcher has recorded its
// identity (PID and start time survive exec, so they are the agent's), then execs the
// agent. No shell runs in between, and it links no Foundation and no SQLite: it runs once
// per start, between the tmux call and the agent.

/// Variables the pane sets for itself; every other variable comes from the plan.
let fromPane = ["TMUX", "TMUX_PANE", "TERM"]

func die(_ message: String, code: Int32) -> Never {
    let line = "mcrun shim: \(message)\n"
    _ = line.utf8CString.withUnsafeBytes { write(2, $0.baseAddress, $0.count - 1) }
    exit(code)
}

let arguments = CommandLine.arguments
guard arguments.count == 2 else { die("usage: mcrun-shim SOCKET (run by mcrun start, not by people)", code: 2) }

// 1. Reach the launcher and take the plan.
let launcher: Int32
switch LaunchSocket.connect(to: arguments[1]) {
case .success(let fd): launcher = fd
case .failure(let error): die("cannot reach the launcher at \(arguments[1]) (\(error)); the agent is not started", code: 1)
}
// The launcher bounds its own wait; this bound only keeps a shim from hanging forever.
LaunchSocket.setTimeout(launcher, milliseconds: 3_600_000)
guard let peer = LaunchSocket.peer(launcher), peer.uid == geteuid() else {
    die("the launcher socket \(arguments[1]) belongs to another user; the agent is not started", code: 1)
}
guard case .plan(let cwd, let argv, var environment)? = LaunchHandshake.receive(on: launcher) else {
    die("the launcher sent no plan; the agent is not started", code: 1)
}

func fail(_ reason: String, _ message: String, code: Int32) -> Never {
    _ = LaunchHandshake.send(.failed(reason: reason, message: message), on: launcher)
    die(message, code: code)
}

// 2. Prepare: the pane's own variables, the directory, the program.
environment.removeAll { entry in fromPane.contains { entry.hasPrefix($0 + "=") } }
for key in fromPane {
    if let value = getenv(key) { environment.append(key + "=" + String(cString: value)) }
}
let path = environment.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
guard chdir(cwd) == 0 else {
    fail("bad_cwd", "cannot enter \(cwd): \(String(cString: strerror(errno)))", code: 126)
}
guard let program = ProgramLookup.resolve(argv[0], path: path, cwd: cwd) else {
    fail("command_not_found", "\(argv[0]): command not found", code: 127)
}

// 3. Wait for the launcher to record this process as the agent.
guard LaunchHandshake.send(.ready, on: launcher) else { die("the launcher went away; the agent is not started", code: 1) }
switch LaunchHandshake.receive(on: launcher) {
case .go?: break
case .refused(let message)?: die(message, code: 1)
default: die("the launcher went away before recording the agent; the agent is not started", code: 1)
}

// 4. Exec. The socket is close-on-exec: the launcher reads its end-of-file as success.
mcrun_reset_signals()
var cArguments = argv.map { strdup($0) } + [nil]
var cEnvironment = environment.map { strdup($0) } + [nil]
execve(program, &cArguments, &cEnvironment)
let reason = String(cString: strerror(errno))
_ = LaunchHandshake.send(.execFailed(reason: reason), on: launcher)
die("cannot execute \(program): \(reason)", code: 126)
