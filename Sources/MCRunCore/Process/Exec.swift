import CLinux
import Glibc

extension Executable {
    /// Replaces this process with `program` (signals unblocked and reset, so it starts
    /// clean even when called from a Swift concurrency thread). Returns only on failure,
    /// with the reason.
    public static func replaceProcess(with program: String, argv: [String], environment: [String: String]) -> String {
        let envp = environment.map { "\($0.key)=\($0.value)" }.sorted()
        mcrun_reset_signals()
        withCStrings(argv) { argv in
            withCStrings(envp) { envp in
                _ = execve(program, argv, envp)
            }
        }
        return String(cString: strerror(errno))
    }
}
