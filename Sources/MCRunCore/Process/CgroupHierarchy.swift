import Glibc

/// The host's cgroup mounts as this process sees them. cgroup v2 (`cgroup2`) carries a
/// runtime's membership, its kill and its `populated` events; the limits go to a v2
/// controller where the v2 tree has it, else to the v1 hierarchy of that controller (a
/// hybrid host mounts memory, cpu and pids as v1).
public struct CgroupHierarchy: Sendable, Equatable {
    /// Where cgroup2 is mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on a hybrid host).
    public var unifiedMount: String?
    /// This process's cgroup2 directory.
    public var ownUnified: String?
    /// For each v1 controller mcrun uses (memory, cpu, pids): this process's directory in it.
    public var ownV1: [String: String]

    /// The controllers whose limits mcrun applies, by their cgroup v2 names.
    public static let limitControllers = ["memory", "cpu", "pids"]

    public static func current() -> CgroupHierarchy {
        parse(mountinfo: text("/proc/self/mountinfo") ?? "", cgroups: text("/proc/self/cgroup") ?? "")
    }

    /// The hierarchy as another process sees it (its cgroups, this process's mounts); nil
    /// when its /proc entry is unreadable.
    public static func of(pid: Int32) -> CgroupHierarchy? {
        text("/proc/\(pid)/cgroup").map { parse(mountinfo: text("/proc/self/mountinfo") ?? "", cgroups: $0) }
    }

    static func parse(mountinfo: String, cgroups: String) -> CgroupHierarchy {
        // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
        var unified: (root: String, point: String)?
        var v1: [String: (root: String, point: String)] = [:]
        for line in mountinfo.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            guard let dash = fields.firstIndex(of: "-"), dash >= 5, fields.count > dash + 3 else { continue }
            let root = unescape(fields[3])
            let point = unescape(fields[4])
            switch fields[dash + 1] {
            case "cgroup2": if unified == nil { unified = (root, point) }
            case "cgroup":
                for option in fields[dash + 3].split(separator: ",") where limitControllers.contains(String(option)) {
                    if v1[String(option)] == nil { v1[String(option)] = (root, point) }
                }
            default: continue
            }
        }
        var result = CgroupHierarchy(unifiedMount: unified?.point, ownUnified: nil, ownV1: [:])
        // /proc/self/cgroup: ID:CONTROLLERS:PATH; the v2 line is `0::PATH`.
        for line in cgroups.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3 else { continue }
            if parts[0] == "0" && parts[1].isEmpty, let unified {
                result.ownUnified = join(unified.point, relative(parts[2], to: unified.root))
            } else {
                for controller in parts[1].split(separator: ",").map(String.init) {
                    if let mount = v1[controller] { result.ownV1[controller] = join(mount.point, relative(parts[2], to: mount.root)) }
                }
            }
        }
        return result
    }

    /// The controllers the v2 tree offers at `directory` (its `cgroup.controllers`).
    public static func controllers(at directory: String) -> Set<String> {
        Set((text(directory + "/cgroup.controllers") ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }

    /// What doctor and `ps` say about the host: where each limit would be enforced.
    public func limitSupport() -> [String: String] {
        var support: [String: String] = [:]
        let v2 = ownUnified.map(Self.controllers(at:)) ?? []
        for controller in Self.limitControllers {
            if v2.contains(controller) {
                support[controller] = "cgroup2"
            } else if ownV1[controller] != nil {
                support[controller] = "cgroup1"
            }
        }
        return support
    }

    static func relative(_ path: String, to root: String) -> String {
        if root == "/" { return path }
        if path == root { return "/" }
        if path.hasPrefix(root + "/") { return String(path.dropFirst(root.count)) }
        return path
    }

    static func join(_ mount: String, _ path: String) -> String {
        path == "/" ? mount : (mount.hasSuffix("/") ? String(mount.dropLast()) : mount) + path
    }

    /// mountinfo escapes space, tab, newline and backslash as octal.
    static func unescape(_ field: String) -> String {
        guard field.contains("\\") else { return field }
        var out: [UInt8] = []
        let bytes = Array(field.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 4 <= bytes.count,
                let code = UInt8(String(decoding: bytes[(i + 1)..<(i + 4)], as: UTF8.self), radix: 8)
            {
                out.append(code)
                i += 4
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func text(_ path: String) -> String? {
        ProcFS.readFile(path, limit: 1 << 20).map { String(decoding: $0, as: UTF8.self) }
    }
}
