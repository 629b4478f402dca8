import Glibc

/// Who a runtime's agent is: a PID alone can be recycled, a pane's shell can outlive the
/// agent, and a reboot reuses both. (boot id, PID, start time) names one process forever.
public struct AgentIdentity: Codable, Hashable, Sendable {
    public var bootID: String
    public var pid: Int32
    public var startTime: UInt64

    public init(bootID: String, pid: Int32, startTime: UInt64) {
        self.bootID = bootID
        self.pid = pid
        self.startTime = startTime
    }

    /// The identity of the calling process.
    public static func current() throws(MCRunError) -> AgentIdentity {
        try of(pid: getpid())
    }

    /// The identity of a running process, read now.
    public static func of(pid: Int32) throws(MCRunError) -> AgentIdentity {
        guard let boot = ProcFS.bootID() else {
            throw .internalError("cannot read the boot id from /proc/sys/kernel/random/boot_id; is /proc mounted?")
        }
        guard let stat = ProcFS.stat(pid) else {
            throw MCRunError(.notFound, "no_process", "process \(pid) does not exist")
        }
        return AgentIdentity(bootID: boot, pid: pid, startTime: stat.startTime)
    }

    public enum Liveness: String, Sendable, Codable {
        case alive
        /// The process exited (gone, or a zombie waiting to be reaped).
        case exited
        /// The PID now belongs to another process.
        case recycled
        /// The identity was recorded before the last reboot.
        case otherBoot = "other_boot"
        /// /proc could not be read: liveness is unknown, and callers must fail closed.
        case unknown

        public var isAlive: Bool { self == .alive }
    }

    /// The one place that decides whether an agent is alive.
    public func liveness(currentBootID: String? = ProcFS.bootID()) -> Liveness {
        guard let currentBootID else { return .unknown }
        guard currentBootID == bootID else { return .otherBoot }
        guard let stat = ProcFS.stat(pid) else {
            // Only a missing /proc entry proves the process is gone; an unreadable one does not.
            return access("/proc/\(pid)", F_OK) != 0 && errno == ENOENT ? .exited : .unknown
        }
        guard stat.startTime == startTime else { return .recycled }
        guard stat.hasExited else { return .alive }
        // A zombie thread-group leader whose other threads still run is not gone: a thread
        // that execs takes over the PID that way, and a leader may pthread_exit.
        return ProcFS.threadCount(pid) > 1 ? .alive : .exited
    }
}
