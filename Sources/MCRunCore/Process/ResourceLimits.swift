/// Per-runtime resource limits: `start --memory-max/--cpu-weight/--pids-max`, else the
/// host defaults of `mcrun config`. Kept with the runtime and applied again on relaunch.
public struct ResourceLimits: Codable, Sendable, Equatable {
    /// Bytes.
    public var memoryMax: Int64?
    /// cgroup v2's `cpu.weight`, 1 to 10000 (100 is the default share).
    public var cpuWeight: Int?
    public var pidsMax: Int?

    public init(memoryMax: Int64? = nil, cpuWeight: Int? = nil, pidsMax: Int? = nil) {
        self.memoryMax = memoryMax
        self.cpuWeight = cpuWeight
        self.pidsMax = pidsMax
    }

    enum CodingKeys: String, CodingKey {
        case memoryMax = "memory_max"
        case cpuWeight = "cpu_weight"
        case pidsMax = "pids_max"
    }

    public var isEmpty: Bool { memoryMax == nil && cpuWeight == nil && pidsMax == nil }

    /// These limits, with `defaults` where one is not given.
    public func over(_ defaults: ResourceLimits) -> ResourceLimits {
        ResourceLimits(memoryMax: memoryMax ?? defaults.memoryMax, cpuWeight: cpuWeight ?? defaults.cpuWeight, pidsMax: pidsMax ?? defaults.pidsMax)
    }

    public static let cpuWeightRange = 1...10_000
    public static let pidsMaxRange = 1...4_194_304
    /// At least 4 MiB (an agent cannot start below it), at most 1 TiB.
    public static let memoryMaxRange: ClosedRange<Int64> = (4 << 20)...(1 << 40)

    /// A size: bytes, or a whole number with K, M, G or T (powers of 1024), e.g. `64M`.
    public static func parseSize(_ text: String) -> Int64? {
        guard let last = text.last else { return nil }
        let shifts: [Character: Int64] = ["K": 10, "k": 10, "M": 20, "m": 20, "G": 30, "g": 30, "T": 40, "t": 40]
        let shift = shifts[last] ?? 0
        let digits = shifts[last] == nil ? Substring(text) : text.dropLast()
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), digits.count <= 13, let n = Int64(digits) else { return nil }
        let value = n << shift
        guard value >> shift == n, memoryMaxRange.contains(value) else { return nil }
        return value
    }

    /// `64M`, `1.5G`: the shortest exact-enough rendering of a size for people.
    public static func formatSize(_ bytes: Int64) -> String {
        let units: [(Int64, String)] = [(1 << 40, "T"), (1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")]
        for (size, unit) in units where bytes >= size {
            if bytes % size == 0 { return "\(bytes / size)\(unit)" }
            let tenths = (bytes * 10 + size / 2) / size
            return "\(tenths / 10).\(tenths % 10)\(unit)"
        }
        return "\(bytes)B"
    }

    /// `memory-max 64M, cpu-weight 50, pids-max 100`, or `none`.
    public var summary: String {
        var parts: [String] = []
        if let memoryMax { parts.append("memory-max \(Self.formatSize(memoryMax))") }
        if let cpuWeight { parts.append("cpu-weight \(cpuWeight)") }
        if let pidsMax { parts.append("pids-max \(pidsMax)") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }
}

/// What a runtime's cgroup says it used: read live by `show`, `ps --json` and the metrics,
/// and once more when the runtime ends (before its cgroup is removed).
public struct ResourceUsage: Codable, Sendable, Equatable {
    public var memoryCurrent: Int64?
    public var memoryPeak: Int64?
    public var cpuMicroseconds: Int64?
    /// Processes of the runtime the kernel's OOM killer ended.
    public var oomKills: Int?

    public init(memoryCurrent: Int64? = nil, memoryPeak: Int64? = nil, cpuMicroseconds: Int64? = nil, oomKills: Int? = nil) {
        self.memoryCurrent = memoryCurrent
        self.memoryPeak = memoryPeak
        self.cpuMicroseconds = cpuMicroseconds
        self.oomKills = oomKills
    }

    enum CodingKeys: String, CodingKey {
        case memoryCurrent = "memory_current"
        case memoryPeak = "memory_peak"
        case cpuMicroseconds = "cpu_usec"
        case oomKills = "oom_kills"
    }
}
