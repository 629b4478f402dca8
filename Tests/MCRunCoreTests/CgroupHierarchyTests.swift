import Testing

@testable import MCRunCore

/// Reading the host's cgroup mounts and a process's cgroups: a hybrid host (cgroup2 beside
/// the v1 controllers) and a unified one, and the sizes the limit flags take.
@Suite struct CgroupHierarchyTests {
    static let hybridMounts = """
        30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
        31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
        33 30 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory
        34 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
        35 30 0:31 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,pids
        36 30 0:32 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,freezer
        """
    static let hybridCgroups = """
        9:pids:/system.slice/mcrun-tmux.service
        4:memory:/process_api/c3c3
        2:cpu,cpuacct:/
        1:freezer:/
        0::/system.slice/mcrun-tmux.service/server
        """

    @Test func aHybridHostHasCgroup2ForMembershipAndV1ForTheLimits() {
        let h = CgroupHierarchy.parse(mountinfo: Self.hybridMounts, cgroups: Self.hybridCgroups)
        #expect(h.unifiedMount == "/sys/fs/cgroup/unified")
        #expect(h.ownUnified == "/sys/fs/cgroup/unified/system.slice/mcrun-tmux.service/server")
        #expect(h.ownV1["memory"] == "/sys/fs/cgroup/memory/process_api/c3c3")
        #expect(h.ownV1["cpu"] == "/sys/fs/cgroup/cpu,cpuacct")
        #expect(h.ownV1["pids"] == "/sys/fs/cgroup/pids/system.slice/mcrun-tmux.service")
        #expect(h.ownV1["freezer"] == nil, "only the controllers of limits are kept")
    }

    @Test func aUnifiedHostInACgroupNamespaceJoinsTheMountRootAndThePath() {
        let mounts = "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot"
        let h = CgroupHierarchy.parse(mountinfo: mounts, cgroups: "0::/\n")
        #expect(h.unifiedMount == "/sys/fs/cgroup")
        #expect(h.ownUnified == "/sys/fs/cgroup")
        #expect(h.ownV1.isEmpty)
        // A mount of a subtree (its root is not /): the path is taken relative to it.
        let sub = "40 23 0:26 /system.slice /mnt/cg rw - cgroup2 cgroup2 rw"
        #expect(CgroupHierarchy.parse(mountinfo: sub, cgroups: "0::/system.slice/a.service").ownUnified == "/mnt/cg/a.service")
        #expect(CgroupHierarchy.unescape("/a\\040b") == "/a b")
    }

    @Test func noCgroup2MountMeansNoCgroupsAndSaysWhy() {
        let h = CgroupHierarchy.parse(mountinfo: "", cgroups: "")
        guard case .unavailable(let why) = CgroupPlacement.resolve(setting: nil, stateDirectory: "/s", hierarchy: h) else {
            Issue.record("a placement without cgroup2")
            return
        }
        #expect(why.contains("no cgroup2"))
        guard case .unavailable(let off) = CgroupPlacement.resolve(setting: "off", stateDirectory: "/s", hierarchy: h) else {
            Issue.record("a placement with cgroup-root off")
            return
        }
        #expect(off.contains("off"))
    }

    @Test func sizesAreBytesOrPowersOf1024WithinTheRange() {
        #expect(ResourceLimits.parseSize("64M") == 64 << 20)
        #expect(ResourceLimits.parseSize("1G") == 1 << 30)
        #expect(ResourceLimits.parseSize("4194304") == 4 << 20)
        for bad in ["", "M", "3M", "2T", "-5M", "1.5G", "64MB", "99999999999999G"] { #expect(ResourceLimits.parseSize(bad) == nil, "\(bad)") }
        #expect(ResourceLimits.formatSize(64 << 20) == "64M")
        #expect(ResourceLimits.formatSize(3 << 29) == "1.5G")
        #expect(CgroupPlacement.stateHash("/var/lib/mcrun").count == 16)
        #expect(CgroupPlacement.stateHash("/a") != CgroupPlacement.stateHash("/b"))
    }
}
