import Glibc

/// Where the agent's own reports write what went wrong: they must never fail the agent
/// (exit 0, nothing on stdout), so their errors go to stderr, which the agent shows only in
/// a verbose mode, and to this file in the state directory. Kept to about 1 MiB: when it
/// is larger it is renamed `.1` and a new one is started.
public struct AgentReportLog: Sendable {
    public let path: String
    public static let limitBytes = 1 << 20

    public init(directory: StateDirectory) {
        path = directory.path + "/agent-reports.log"
    }

    /// Opens the log for appending (0600), or -1 when the state directory does not exist:
    /// a report never creates one.
    public func open() -> Int32 {
        var info = stat()
        if stat(path, &info) == 0, Int(info.st_size) > Self.limitBytes {
            rename(path, path + ".1")
        }
        return Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
    }
}
