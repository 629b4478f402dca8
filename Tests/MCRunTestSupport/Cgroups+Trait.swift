import Foundation
import Glibc
import MCRunCore
public import Testing

/// Whether runtime cgroups can be made here: root (or a delegated user) with a writable
/// cgroup2 tree that has `cgroup.kill`. nil when they can; else why not.
public enum CgroupSupport {
    public static let unavailableReason: String? = {
        let hierarchy = CgroupHierarchy.current()
        guard let mount = hierarchy.unifiedMount else { return "no cgroup2 file system is mounted" }
        guard access(mount, W_OK) == 0, access(mount + "/cgroup.procs", W_OK) == 0 else { return "\(mount) is not writable by this user (needs root)" }
        guard let own = hierarchy.ownUnified, access(own + "/cgroup.events", F_OK) == 0 || own == mount else {
            return "this process's cgroup2 directory is not readable"
        }
        return nil
    }()

    /// Always under `CI=true`, where a missing capability fails the tests instead of skipping them.
    public static let shouldRun: Bool = unavailableReason == nil || ProcessInfo.processInfo.environment["CI"] == "true"
}

extension Trait where Self == ConditionTrait {
    /// For tests of the cgroup per runtime outside systemd: they need root and a writable
    /// cgroup2 tree (CI has both); elsewhere they are skipped with the reason in the output.
    public static var needsWritableCgroups: Self {
        .enabled(
            if: CgroupSupport.shouldRun,
            Comment(rawValue: "SKIPPED LOUDLY: needs root and a writable cgroup2 tree: \(CgroupSupport.unavailableReason ?? "")"))
    }
}
