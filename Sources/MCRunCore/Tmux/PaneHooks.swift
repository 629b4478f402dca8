import Foundation
import Glibc
import CLinux

/// Where the executables tmux calls live, and the pipe-pane line that attaches a pane's
/// log. tmux runs a pipe-pane command through `sh -c`, so the line is built only from
/// single-quoted paths and integers: no ticket id, command or message ever reaches it.
public enum PaneHooks {
    /// `MCRUN_HOOKS_DIR`, else `/usr/local/lib/mcrun/hooks`, else a `hooks` folder beside
    /// or above the mcrun binary (a build tree).
    public static func hooksDirectory(_ context: MCRunContext) -> String? {
        hooksDirectory(environment: context.environment, executable: context.executable)
    }

    /// The same lookup without a context (`doctor` opens no ledger).
    public static func hooksDirectory(environment: [String: String], executable: String) -> String? {
        if let dir = environment["MCRUN_HOOKS_DIR"], !dir.isEmpty { return dir }
        if isDirectory("/usr/local/lib/mcrun/hooks") { return "/usr/local/lib/mcrun/hooks" }
        var dir = parent(executable)
        for _ in 0..<4 {
            if isDirectory(dir + "/hooks") { return dir + "/hooks" }
            dir = parent(dir)
        }
        return nil
    }

    /// The pane-log filter binary, built beside mcrun.
    public static func paneLogBinary(_ context: MCRunContext) -> String {
        paneLogBinary(environment: context.environment, executable: context.executable)
    }

    public static func paneLogBinary(environment: [String: String], executable: String) -> String {
        environment["MCRUN_PANE_LOG_BIN"] ?? parent(executable) + "/mcrun-pane-log"
    }

    public static let logMaxBytes = 8 << 20

    /// tmux commands, run in the same invocation that creates the session, so the log
    /// misses none of the agent's first output.
    public static func attachCommands(_ context: MCRunContext, runtimeID: Int64) -> [[String]] {
        guard let hooks = hooksDirectory(context), access(hooks + "/pane-log", X_OK) == 0 else { return [] }
        let log = context.stateDirectory.paneLogPath(runtimeID: runtimeID)
        let line = "MCRUN_PANE_LOG_BIN=\(shellQuote(paneLogBinary(context))) exec \(shellQuote(hooks + "/pane-log")) --raw --max-bytes \(logMaxBytes) \(shellQuote(log))"
        return [["pipe-pane", "-o", line]]
    }

    public static func shellQuote(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func isDirectory(_ path: String) -> Bool {
        let mode = mcrun_file_mode(path)
        return mode >= 0 && UInt32(mode) & S_IFMT == S_IFDIR
    }
}
