public import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Where mcrun's logs go: the journal when systemd runs the process, stderr otherwise.
public enum MCRunLogging {
    public enum Destination: Sendable, Equatable {
        case journal
        case standardError
    }

    /// Installs mcrun's handler for every `Logger` of the process. Call it once, first thing:
    /// swift-log allows one bootstrap per process.
    public static func bootstrap(level: Logger.Level) {
        let destination = destination(environment: currentEnvironment(), standardError: standardErrorIdentity())
        LoggingSystem.bootstrap { label in
            makeHandler(label: label, level: level, destination: destination)
        }
    }

    public static func makeHandler(label: String, level: Logger.Level, destination: Destination) -> any LogHandler {
        switch destination {
        case .journal:
            JournalLogHandler(label: label, logLevel: level)
        case .standardError:
            StderrLogHandler(logLevel: level)
        }
    }

    /// systemd sets `$JOURNAL_STREAM` (`device:inode`) when it connects stderr to the journal,
    /// and `$INVOCATION_ID` for every process of a unit. Both are inherited by children:
    /// an agent in mcrun's tmux server carries them too, with a terminal for stderr. So
    /// `$JOURNAL_STREAM` counts only when it still names this process's stderr (the check
    /// systemd.exec(5) recommends); without it, `$INVOCATION_ID` means a unit whose output is
    /// not the journal, where the journal is still the place its logs are read.
    public static func destination(
        environment: [String: String],
        standardError: (device: UInt64, inode: UInt64)?
    ) -> Destination {
        if let stream = environment["JOURNAL_STREAM"], !stream.isEmpty {
            let parts = stream.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]),
                let stderr = standardError
            else { return .standardError }
            return stderr.device == device && stderr.inode == inode ? .journal : .standardError
        }
        if let invocation = environment["INVOCATION_ID"], !invocation.isEmpty {
            return .journal
        }
        return .standardError
    }

    private static func currentEnvironment() -> [String: String] {
        var environment: [String: String] = [:]
        for name in ["JOURNAL_STREAM", "INVOCATION_ID"] {
            if let value = getenv(name) {
                environment[name] = String(cString: value)
            }
        }
        return environment
    }

    static func standardErrorIdentity() -> (device: UInt64, inode: UInt64)? {
        var status = stat()
        guard fstat(STDERR_FILENO, &status) == 0 else { return nil }
        return (UInt64(status.st_dev), UInt64(status.st_ino))
    }
}
