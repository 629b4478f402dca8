import CLinux
import Glibc

/// A runtime's own cgroup: the launcher moves the pane's shim into it before it lets the
/// shim exec the agent, so the
/// agent and everything it starts, by any means (a new session, an empty environment, a
/// double fork), are in it. Teardown kills the cgroup and waits for the kernel to say it is
/// empty; nothing is searched for.
///
/// `path` is the cgroup2 directory (membership, `cgroup.kill`, `cgroup.events`, `cpu.stat`,
/// and the limits whose controller the v2 tree has); `v1` holds, by controller, the cgroup
/// v1 directories that carry the limits the v2 tree lacks (a hybrid host).
public struct RuntimeCgroup: Codable, Sendable, Equatable {
    public var path: String
    public var v1: [String: String]
    /// Where each limit is enforced: controller → `cgroup2` or `cgroup1`.
    public var enforced: [String: String]

    public init(path: String, v1: [String: String] = [:], enforced: [String: String] = [:]) {
        self.path = path
        self.v1 = v1
        self.enforced = enforced
    }

    /// `runtime-TICKET-EPISODE`: the name shows whose it is.
    public static func name(ticket: String, episode: Int) -> String { "runtime-\(ticket)-\(episode)" }

    /// What the launch got: the cgroup the shim was moved into, or why the runtime has none
    /// (its leftovers are then found by the /proc search), and the limits that could not be
    /// enforced.
    public struct Joined: Sendable, Equatable {
        public var cgroup: RuntimeCgroup?
        public var missing: String?
        public var unenforced: [String] = []
    }

    /// Creates the runtime's cgroup under `placement`, moves `pid` (the pane's shim, waiting
    /// for its launcher's go) into it, then applies `limits`: on cgroup v2 where the tree
    /// offers the controller, else in a v1 group the shim joins too. `serverPID` is the tmux
    /// server, moved to its `server` leaf when the placement asks.
    public static func join(
        ticket: String, episode: Int, limits: ResourceLimits, placement: CgroupPlacement, hierarchy: CgroupHierarchy, pid: Int32, serverPID: Int32?
    ) -> Joined {
        let base: String
        switch placement {
        case .unavailable(let why): return Joined(cgroup: nil, missing: why)
        case .base(let directory, let serverLeaf):
            base = directory
            if serverLeaf {
                // cgroup v2 lets only leaves hold processes once controllers are enabled
                // below a group: the tmux server (the shim's parent) and what it already
                // runs there (the first pane's pane-log hook) go to `server`, a sibling of
                // the runtimes. Shims waiting for their launchers stay: each goes to its own.
                let leaf = base + "/server"
                guard let serverPID else { return Joined(cgroup: nil, missing: "the tmux server of the pane is not known") }
                if mkdir(leaf, 0o755) != 0 && errno != EEXIST { return Joined(cgroup: nil, missing: "cannot create \(leaf): \(errorText())") }
                if let failure = write(String(serverPID), to: leaf + "/cgroup.procs") {
                    return Joined(cgroup: nil, missing: "cannot move the tmux server into \(leaf): \(failure)")
                }
                for member in RuntimeCgroup(path: base).processes() where member != pid && !isWaitingShim(member) {
                    _ = write(String(member), to: leaf + "/cgroup.procs")
                }
            }
        }
        let name = Self.name(ticket: ticket, episode: episode)
        let directory = base + "/" + name
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            return Joined(cgroup: nil, missing: "cannot create \(directory): \(errorText())")
        }
        // Membership first: cgroup v2 refuses to enable controllers below a group that still
        // holds a process, which the shim would be until it is here.
        if let failure = write(String(pid), to: directory + "/cgroup.procs") {
            _ = rmdir(directory)
            return Joined(cgroup: nil, missing: "cannot move into \(directory): \(failure)")
        }
        var wanted: [String] = ["memory"]
        if limits.cpuWeight != nil { wanted.append("cpu") }
        if limits.pidsMax != nil { wanted.append("pids") }
        // Controllers for the runtimes are enabled in the base's subtree (a failure only
        // means the v1 hierarchy, if any, carries the limit).
        let offered = CgroupHierarchy.controllers(at: base)
        let enable = wanted.filter { offered.contains($0) }
        if !enable.isEmpty { _ = write(enable.map { "+" + $0 }.joined(separator: " "), to: base + "/cgroup.subtree_control") }
        var cgroup = RuntimeCgroup(path: directory)
        var unenforced: [String] = []
        let inV2 = CgroupHierarchy.controllers(at: directory)
        for controller in wanted {
            let limit = limits.value(for: controller)
            if inV2.contains(controller) {
                if let limit, !applyV2(controller, limit, in: directory) {
                    unenforced.append(controller)
                } else if limit != nil {
                    cgroup.enforced[controller] = "cgroup2"
                }
                continue
            }
            guard let parent = hierarchy.ownV1[controller] else {
                if limit != nil { unenforced.append(controller) }
                continue
            }
            let group = parent + "/mcrun-" + CgroupPlacement.stateHash(base) + "/" + name
            guard makeDirectories(group), applyV1(controller, limit, in: group), write(String(pid), to: group + "/cgroup.procs") == nil else {
                _ = rmdir(group)
                if limit != nil { unenforced.append(controller) }
                continue
            }
            cgroup.v1[controller] = group
            if limit != nil { cgroup.enforced[controller] = "cgroup1" }
        }
        return Joined(cgroup: cgroup, missing: nil, unenforced: unenforced)
    }

    /// A shim still waiting for its launcher (its name until it execs the agent).
    static func isWaitingShim(_ pid: Int32) -> Bool {
        ProcFS.readFile("/proc/\(pid)/comm", limit: 64).map { String(decoding: $0, as: UTF8.self) == "mcrun-shim\n" } ?? false
    }

    private static func applyV2(_ controller: String, _ limit: Int64, in directory: String) -> Bool {
        switch controller {
        case "memory":
            // No swap to hide in: over the limit is out of memory, not a slow agent.
            _ = write("0", to: directory + "/memory.swap.max")
            return write(String(limit), to: directory + "/memory.max") == nil
        case "cpu": return write(String(limit), to: directory + "/cpu.weight") == nil
        case "pids": return write(String(limit), to: directory + "/pids.max") == nil
        default: return false
        }
    }

    private static func applyV1(_ controller: String, _ limit: Int64?, in directory: String) -> Bool {
        guard let limit else { return true }
        switch controller {
        case "memory":
            guard write(String(limit), to: directory + "/memory.limit_in_bytes") == nil else { return false }
            _ = write(String(limit), to: directory + "/memory.memsw.limit_in_bytes")
            return true
        // cpu.weight 100 is cpu.shares 1024, as systemd converts them.
        case "cpu": return write(String(max(2, limit * 1024 / 100)), to: directory + "/cpu.shares") == nil
        case "pids": return write(String(limit), to: directory + "/pids.max") == nil
        default: return false
        }
    }

    // MARK: - Teardown

    /// What killing a runtime's cgroup found.
    public struct Cleared: Sendable, Equatable {
        /// Processes other than the agent that were in the cgroup when it was killed.
        public var killed: Int
        /// The kernel said the cgroup is empty (or it was gone already).
        public var empty: Bool
        /// The directories were removed.
        public var removed: Bool
    }

    /// Kills every process in the cgroup (`cgroup.kill`), waits for `populated 0` in
    /// `cgroup.events` (inotify: the kernel tells, nothing is polled), then removes the
    /// directories. `agentPID` is not counted as a leftover.
    public func killAll(agentPID: Int32?, timeoutMilliseconds: Int = 5_000) -> Cleared {
        guard access(path, F_OK) == 0 else {
            removeV1()
            return Cleared(killed: 0, empty: true, removed: true)
        }
        let members = processes()
        let killed = members.filter { $0 != agentPID }.count
        if isPopulated() != false {
            if Self.write("1", to: path + "/cgroup.kill") != nil {
                // A kernel before 5.14 has no cgroup.kill: each member by pidfd.
                for pid in members {
                    let fd = mcrun_pidfd_open(pid, 0)
                    if fd >= 0 {
                        _ = mcrun_pidfd_send_signal(fd, SIGKILL)
                        close(fd)
                    }
                }
            }
        }
        let empty = waitUntilEmpty(timeoutMilliseconds: timeoutMilliseconds)
        var removed = false
        if empty {
            removeV1()
            removed = rmdir(path) == 0 || errno == ENOENT
        }
        return Cleared(killed: killed, empty: empty, removed: removed)
    }

    /// Removes the directories of a cgroup that is already empty; false if it is not.
    @discardableResult
    public func removeIfEmpty() -> Bool {
        guard isPopulated() != true else { return false }
        removeV1()
        return rmdir(path) == 0 || errno == ENOENT
    }

    private func removeV1() {
        for group in v1.values { _ = rmdir(group) }
    }

    /// The PIDs in the cgroup (`cgroup.procs`).
    public func processes() -> [Int32] {
        (CgroupHierarchy.text(path + "/cgroup.procs") ?? "").split(separator: "\n").compactMap { Int32($0) }
    }

    /// `populated` from `cgroup.events`; nil when unreadable (the cgroup is gone).
    public func isPopulated() -> Bool? {
        guard let events = CgroupHierarchy.text(path + "/cgroup.events") else { return nil }
        return Self.field("populated", in: events).map { $0 != 0 }
    }

    /// Waits, bounded, for the kernel to report the cgroup empty. `cgroup.events` raises a
    /// modify event on every change of `populated`.
    public func waitUntilEmpty(timeoutMilliseconds: Int) -> Bool {
        let fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        defer { if fd >= 0 { close(fd) } }
        if fd >= 0 { _ = inotify_add_watch(fd, path + "/cgroup.events", UInt32(IN_MODIFY)) }
        let deadline = Instant.after(milliseconds: timeoutMilliseconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            guard let populated = isPopulated(), populated else { return true }
            let left = deadline.remainingMilliseconds
            guard left > 0, fd >= 0 else { return false }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&poller, 1, Int32(min(left, Int(Int32.max))))
            _ = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        }
    }

    // MARK: - Usage

    /// Current and peak memory, CPU time and OOM kills, from whichever hierarchy has them.
    /// `ps` reads it for every live runtime, so each file is opened once and none in vain:
    /// every cgroup2 directory has `cpu.stat` (none: the cgroup is gone), and a runtime has
    /// a v1 memory group only where the v2 tree lacks the controller.
    public func usage() -> ResourceUsage? {
        guard let stat = CgroupHierarchy.text(path + "/cpu.stat") else { return nil }
        var usage = ResourceUsage()
        usage.cpuMicroseconds = Self.field("usage_usec", in: stat)
        if let memory = v1["memory"] {
            usage.memoryCurrent = Self.number(memory + "/memory.usage_in_bytes")
            usage.memoryPeak = Self.number(memory + "/memory.max_usage_in_bytes")
            usage.oomKills = CgroupHierarchy.text(memory + "/memory.oom_control").flatMap { Self.field("oom_kill", in: $0) }.map(Int.init)
        } else if let current = Self.number(path + "/memory.current") {
            usage.memoryCurrent = current
            usage.memoryPeak = Self.number(path + "/memory.peak")
            usage.oomKills = CgroupHierarchy.text(path + "/memory.events").flatMap { Self.field("oom_kill", in: $0) }.map(Int.init)
        }
        return usage
    }

    // MARK: - Files

    static func field(_ key: String, in text: String) -> Int64? {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == key { return Int64(parts[1]) }
        }
        return nil
    }

    static func number(_ path: String) -> Int64? {
        CgroupHierarchy.text(path).flatMap { Int64($0.trimmingWhitespace()) }
    }

    /// Writes `value` to a cgroup file in one write(2); the error text, or nil on success.
    static func write(_ value: String, to path: String) -> String? {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return errorText() }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        return n == bytes.count ? nil : errorText()
    }

    static func makeDirectories(_ path: String) -> Bool {
        if mkdir(path, 0o755) == 0 || errno == EEXIST { return true }
        guard errno == ENOENT, let slash = path.lastIndex(of: "/"), slash > path.startIndex else { return false }
        return makeDirectories(String(path[..<slash])) && (mkdir(path, 0o755) == 0 || errno == EEXIST)
    }

    static func errorText() -> String { String(cString: strerror(errno)) }
}

extension ResourceLimits {
    func value(for controller: String) -> Int64? {
        switch controller {
        case "memory": memoryMax
        case "cpu": cpuWeight.map(Int64.init)
        case "pids": pidsMax.map(Int64.init)
        default: nil
        }
    }
}

/// Where runtime cgroups are created, as the pane's process (a child of mcrun's tmux server) sees it.
public enum CgroupPlacement: Sendable, Equatable {
    /// Runtime cgroups are children of this cgroup2 directory; with `serverLeaf` the tmux
    /// server is first moved into its `server` child.
    case base(String, serverLeaf: Bool)
    /// No cgroup per runtime, and why: leftovers are found by the /proc search.
    case unavailable(String)

    /// The `cgroup-root` setting's values besides a path.
    public static let off = "off"

    /// - `cgroup-root off`: none.
    /// - `cgroup-root PATH`: that cgroup2 directory (created if its parent is writable).
    /// - unset: under systemd (`Delegate=yes` on mcrun-tmux.service, which systemd marks on
    ///   the cgroup) the service's own cgroup, with the server in its `server` leaf;
    ///   elsewhere `mcrun-HASH` at the top of the cgroup2 tree, one per state directory,
    ///   where this user may create it.
    /// `create: false` (doctor) decides without creating anything.
    public static func resolve(setting: String?, stateDirectory: String, hierarchy: CgroupHierarchy, create: Bool = true) -> CgroupPlacement {
        if setting == off { return .unavailable("cgroups are off (mcrun config cgroup-root off)") }
        guard let mount = hierarchy.unifiedMount, let own = hierarchy.ownUnified else {
            return .unavailable("no cgroup2 file system is mounted")
        }
        if let setting {
            // The server's own cgroup named as the root: it moves to a leaf first.
            return usable(setting, create: create).map { .unavailable("cgroup-root \(setting): \($0)") }
                ?? .base(setting, serverLeaf: own == setting)
        }
        // Under systemd: the unit's cgroup when systemd delegated it (it marks a delegated
        // cgroup with the `user.delegate` attribute, from version 251), or its `server` leaf.
        let name = own.split(separator: "/").last.map(String.init) ?? ""
        let parent = own.split(separator: "/").dropLast().joined(separator: "/")
        let parentPath = own.hasPrefix("/") ? "/" + parent : parent
        if name == "server", isDelegated(parentPath), usable(parentPath, create: false) == nil {
            return .base(parentPath, serverLeaf: false)
        }
        if own != mount, isDelegated(own), usable(own, create: false) == nil {
            return .base(own, serverLeaf: true)
        }
        let top = mount + "/mcrun-" + stateHash(stateDirectory)
        if !create && access(top, F_OK) != 0 {
            return usable(mount, create: false).map { .unavailable("no writable cgroup2 subtree (\(mount): \($0))") } ?? .base(top, serverLeaf: false)
        }
        if let why = usable(top, create: create) {
            return .unavailable("no writable cgroup2 subtree (\(top): \(why))")
        }
        return .base(top, serverLeaf: false)
    }

    /// Kills and removes every runtime cgroup of a state directory's automatic subtree
    /// (`mcrun-HASH`) and the subtree itself: for a state directory being removed.
    /// Returns how many runtime cgroups were removed.
    @discardableResult
    public static func removeSubtree(stateDirectory: String, hierarchy: CgroupHierarchy = .current()) -> Int {
        guard let mount = hierarchy.unifiedMount else { return 0 }
        let base = mount + "/mcrun-" + stateHash(stateDirectory)
        let names = childDirectories(base).filter { $0.hasPrefix("runtime-") || $0 == "server" }
        var removed = 0
        for name in names {
            var v1: [String: String] = [:]
            for (controller, parent) in hierarchy.ownV1 { v1[controller] = parent + "/mcrun-" + stateHash(base) + "/" + name }
            if RuntimeCgroup(path: base + "/" + name, v1: v1).killAll(agentPID: nil).removed { removed += 1 }
        }
        // v1 groups whose cgroup2 twin is gone already (their processes left the v2 group).
        for parent in hierarchy.ownV1.values {
            let v1Base = parent + "/mcrun-" + stateHash(base)
            for name in childDirectories(v1Base) where name.hasPrefix("runtime-") { _ = rmdir(v1Base + "/" + name) }
            _ = rmdir(v1Base)
        }
        _ = rmdir(base)
        return removed
    }

    /// systemd's mark on a cgroup it delegated (`Delegate=yes`): `user.delegate` (readable by
    /// the unit's user) or `trusted.delegate`, set to 1.
    static func isDelegated(_ directory: String) -> Bool {
        for name in ["user.delegate", "trusted.delegate"] {
            var value = [UInt8](repeating: 0, count: 8)
            let n = value.withUnsafeMutableBytes { CLinux.getxattr(directory, name, $0.baseAddress, $0.count) }
            if n == 1 && value[0] == UInt8(ascii: "1") { return true }
        }
        return false
    }

    static func childDirectories(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// nil when `directory` is a cgroup2 directory this process may create children in and
    /// move processes into; else why not.
    static func usable(_ directory: String, create: Bool) -> String? {
        if create && mkdir(directory, 0o755) != 0 && errno != EEXIST { return RuntimeCgroup.errorText() }
        guard access(directory + "/cgroup.procs", F_OK) == 0 else { return "not a cgroup2 directory" }
        guard access(directory, W_OK) == 0, access(directory + "/cgroup.procs", W_OK) == 0 else { return "not writable" }
        return nil
    }

    /// A short stable name for a state directory (FNV-1a), so two state directories on one
    /// host never share a subtree.
    public static func stateHash(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
