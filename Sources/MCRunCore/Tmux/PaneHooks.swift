import CLinux
import Foundation
import Glibc

/// Where the executables tmux calls live, and the pipe-pane line that attaches a pane's
/// log. tmux runs a pipe-pane command through `sh -c`, so the line is built only from
/// single-quoted paths and integers: no ticket id, command or message ever reaches it.
public enum PaneHooks {
    /// `MCRUN_HOOKS_DIR`, else `PREFIX/lib/mcrun/hooks` for an installed `PREFIX/bin/mcrun`
    /// (where scripts/install.sh puts them), else a `hooks` folder beside or above the mcrun
    /// binary (a build tree).
    public static func hooksDirectory(_ context: MCRunContext) -> String? {
        hooksDirectory(environment: context.environment, executable: context.executable)
    }

    /// The same lookup without a context (`doctor` opens no ledger).
    public static func hooksDirectory(environment: [String: String], executable: String) -> String? {
        if let dir = environment["MCRUN_HOOKS_DIR"], !dir.isEmpty { return dir }
        for dir in candidateDirectories(executable: executable) where isDirectory(dir) { return dir }
        return nil
    }

    /// Where an mcrun binary at `executable` looks for its hooks, in order.
    public static func candidateDirectories(executable: String) -> [String] {
        let bin = parent(executable)
        var candidates = [parent(bin) + "/lib/mcrun/hooks"]
        var dir = bin
        for _ in 0..<4 {
            candidates.append(dir + "/hooks")
            dir = parent(dir)
        }
        return candidates
    }

    /// The pane-log filter binary, built beside mcrun.
    public static func paneLogBinary(_ context: MCRunContext) -> String {
        paneLogBinary(environment: context.environment, executable: context.executable)
    }

    public static func paneLogBinary(environment: [String: String], executable: String) -> String {
        environment["MCRUN_PANE_LOG_BIN"] ?? parent(executable) + "/mcrun-pane-log"
    }

    public static let logMaxBytes = 8 << 20

    /// How a pane gets its log: the tmux commands to run in the same invocation that creates
    /// the session (so the log misses none of the agent's first output), or why it cannot
    /// have one. A runtime without a log is recorded as such and reported, never silent.
    public enum LogAttachment: Sendable, Equatable {
        case commands([[String]])
        case missing(String)
    }

    public static func logAttachment(_ context: MCRunContext, runtimeID: Int64) -> LogAttachment {
        guard let hooks = hooksDirectory(context) else {
            let looked = context.environment["MCRUN_HOOKS_DIR"].map { [$0] } ?? candidateDirectories(executable: context.executable)
            return .missing("no hooks folder found (looked in \(looked.joined(separator: ", "))); install mcrun with scripts/install.sh or set MCRUN_HOOKS_DIR")
        }
        guard access(hooks + "/pane-log", X_OK) == 0 else {
            return .missing("\(hooks)/pane-log is missing or not executable")
        }
        let binary = paneLogBinary(context)
        guard access(binary, X_OK) == 0 else {
            return .missing("\(binary) is missing or not executable; install it beside mcrun or set MCRUN_PANE_LOG_BIN")
        }
        let log = context.stateDirectory.paneLogPath(runtimeID: runtimeID)
        let line = "MCRUN_PANE_LOG_BIN=\(shellQuote(binary)) exec \(shellQuote(hooks + "/pane-log")) --raw --max-bytes \(logMaxBytes) \(shellQuote(log))"
        return .commands([["pipe-pane", "-o", line]])
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
