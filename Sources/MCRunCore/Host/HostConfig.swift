import GRDB

/// The host settings an operator may change with `mcrun config KEY VALUE`. Each value is
/// validated before it is stored, because the readers fail closed on a bad one (a capacity
/// that is not a number refuses every start).
public enum HostConfig {
    public enum Key: String, Sendable, CaseIterable {
        case capacity
        case busyPattern = "busy-pattern"
        case busyWindow = "busy-window"
        case interruptKey = "interrupt-key"
        case harvestTimeout = "harvest-timeout"
        case maxSilentRetries = "max-silent-retries"
        case retryDelay = "retry-delay"
        case breakerTickets = "breaker-tickets"
        case breakerWindow = "breaker-window"
        case breakerFastDeath = "breaker-fast-death"
        case breakerCooldown = "breaker-cooldown"
        case memoryMax = "memory-max"
        case cpuWeight = "cpu-weight"
        case pidsMax = "pids-max"
        case cgroupRoot = "cgroup-root"

        public var setting: Setting {
            switch self {
            case .capacity: .capacity
            case .busyPattern: .busyPattern
            case .busyWindow: .busyWindow
            case .interruptKey: .interruptKey
            case .harvestTimeout: .harvestTimeout
            case .maxSilentRetries: .maxSilentRetries
            case .retryDelay: .retryDelay
            case .breakerTickets: .breakerTickets
            case .breakerWindow: .breakerWindow
            case .breakerFastDeath: .breakerFastDeath
            case .breakerCooldown: .breakerCooldown
            case .memoryMax: .memoryMax
            case .cpuWeight: .cpuWeight
            case .pidsMax: .pidsMax
            case .cgroupRoot: .cgroupRoot
            }
        }

        /// The value in force while the setting is not stored, in its stored form; nil
        /// when unset means "no limit" or "off".
        public var defaultValue: String? {
            switch self {
            case .capacity, .busyPattern, .harvestTimeout, .memoryMax, .cpuWeight, .pidsMax, .cgroupRoot: nil
            case .busyWindow: String(Activity.Settings.defaultWindowSeconds)
            case .interruptKey: Sender.defaultInterruptKey
            case .maxSilentRetries: String(DeathPolicy().maxSilentRetries)
            case .retryDelay: String(Double(DeathPolicy().retryDelayMilliseconds) / 1000)
            case .breakerTickets: String(BreakerPolicy().tickets)
            case .breakerWindow: String(BreakerPolicy().windowSeconds)
            case .breakerFastDeath: String(BreakerPolicy().fastDeathSeconds)
            case .breakerCooldown: String(BreakerPolicy().cooldownSeconds)
            }
        }

        public var help: String {
            switch self {
            case .capacity: "maximum live runtimes on this host (a whole number), or none"
            case .busyPattern: "regex over the pane's screen that means busy (last resort), or none"
            case .busyWindow: "seconds of recent pane output that count as busy (default 3)"
            case .interruptKey: "tmux key send --interrupt presses (default Escape), e.g. C-c"
            case .harvestTimeout: "a live runtime without pane output this long is silent (e.g. 30m), or none"
            case .maxSilentRetries: "unexpected deaths of a ticket relaunched silently before it escalates (default 1)"
            case .retryDelay: "delay before a silent relaunch (default 2s), e.g. 500ms"
            case .breakerTickets: "tickets whose agents die fast within breaker-window that open the host breaker (default 3; 0: off)"
            case .breakerWindow: "how far back fast deaths count for the breaker (default 2m)"
            case .breakerFastDeath: "an agent that dies within this of starting died fast (default 10s)"
            case .breakerCooldown: "how long the breaker holds launches before one probe launch (default 5m)"
            case .memoryMax: "default memory limit of a runtime's cgroup (e.g. 4G), or none"
            case .cpuWeight: "default CPU weight of a runtime's cgroup (1-10000; 100 is an even share), or none"
            case .pidsMax: "default task limit of a runtime's cgroup (a whole number), or none"
            case .cgroupRoot: "cgroup2 directory for runtime cgroups, off (search /proc instead), or none (automatic)"
            }
        }
    }

    public static let maxCapacity = 100_000
    static let busyWindowRange = 1...DurationText.hour
    static let retryDelayRange = 0...DurationText.day
    static let breakerDurationRange = 1...DurationText.day

    /// The stored form of `value`, or nil to clear the setting.
    public static func normalise(_ key: Key, _ value: String) throws(MCRunError) -> String? {
        if value == "none" || value == "default" { return nil }
        switch key {
        case .capacity:
            guard value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(value), n <= maxCapacity else {
                throw .badInput(
                    "bad_value", "capacity \(value.debugDescription) is not a whole number from 0 to \(maxCapacity); use: mcrun config capacity N|none")
            }
            return String(n)
        case .busyPattern:
            guard !value.isEmpty, Activity.isValidPattern(value) else {
                throw .badInput("bad_value", "busy-pattern \(value.debugDescription) is not a valid regular expression")
            }
            return value
        case .busyWindow:
            guard let ms = DurationText.milliseconds(value, in: busyWindowRange) else {
                throw .badInput("bad_value", "busy-window \(value.debugDescription) is not \(DurationText.expectation(busyWindowRange))")
            }
            return String(Double(ms) / 1000)
        case .interruptKey:
            // A single tmux key name (Escape, C-c, M-x, F1): never more than one word.
            let allowed = value.utf8.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == UInt8(ascii: "-")
            }
            guard !value.isEmpty, value.utf8.count <= 16, allowed else {
                throw .badInput("bad_value", "interrupt-key \(value.debugDescription) is not a tmux key name such as Escape or C-c")
            }
            return value
        case .harvestTimeout:
            guard let seconds = HarvestTimeout.parse(value) else {
                throw .badInput("bad_value", "harvest-timeout \(value.debugDescription) is not \(DurationText.expectation(HarvestTimeout.range))")
            }
            return String(seconds)
        case .maxSilentRetries:
            guard let n = Int(value), n >= 0, n <= 1000 else {
                throw .badInput("bad_value", "max-silent-retries \(value.debugDescription) is not a whole number from 0 to 1000")
            }
            return String(n)
        case .retryDelay:
            guard let ms = DurationText.milliseconds(value, in: retryDelayRange) else {
                throw .badInput("bad_value", "retry-delay \(value.debugDescription) is not \(DurationText.expectation(retryDelayRange))")
            }
            return String(Double(ms) / 1000)
        case .breakerTickets:
            guard let n = Int(value), n >= 0, n <= 1000 else {
                throw .badInput("bad_value", "breaker-tickets \(value.debugDescription) is not a whole number from 0 to 1000")
            }
            return String(n)
        case .breakerWindow, .breakerFastDeath, .breakerCooldown:
            guard let ms = DurationText.milliseconds(value, in: breakerDurationRange) else {
                throw .badInput("bad_value", "\(key.rawValue) \(value.debugDescription) is not \(DurationText.expectation(breakerDurationRange))")
            }
            return String(Double(ms) / 1000)
        case .memoryMax:
            guard let bytes = ResourceLimits.parseSize(value) else {
                throw .badInput("bad_value", "memory-max \(value.debugDescription) is not a size from 4M to 1T (bytes, or a number with K, M, G or T)")
            }
            return String(bytes)
        case .cpuWeight:
            guard let n = Int(value), ResourceLimits.cpuWeightRange.contains(n) else {
                throw .badInput("bad_value", "cpu-weight \(value.debugDescription) is not a whole number from 1 to 10000")
            }
            return String(n)
        case .pidsMax:
            guard let n = Int(value), ResourceLimits.pidsMaxRange.contains(n) else {
                throw .badInput("bad_value", "pids-max \(value.debugDescription) is not a whole number from 1 to \(ResourceLimits.pidsMaxRange.upperBound)")
            }
            return String(n)
        case .cgroupRoot:
            guard value == CgroupPlacement.off || (value.hasPrefix("/") && !value.contains("\n") && value.utf8.count <= 4096) else {
                throw .badInput("bad_value", "cgroup-root \(value.debugDescription) is not an absolute path or off")
            }
            return value
        }
    }

    /// The host's default limits for a runtime.
    static func defaultLimits(_ db: Database) throws -> ResourceLimits {
        ResourceLimits(
            memoryMax: try value(db, .memoryMax).flatMap { Int64($0) }, cpuWeight: try value(db, .cpuWeight).flatMap { Int($0) },
            pidsMax: try value(db, .pidsMax).flatMap { Int($0) })
    }

    static func value(_ db: Database, _ key: Key) throws -> String? {
        try Ledger.setting(db, key.setting)
    }

    /// Stores a setting and its `config` event in one transaction; the event says whether
    /// it came from `mcrun config` or a flag of `mcrun serve`.
    public static func set(_ key: Key, _ raw: String, ledger: Ledger, actor: String, source: SettingSource = .ledger) throws(MCRunError) -> String? {
        let value = try normalise(key, raw)
        return try ledger.write { db in
            let before = try Ledger.setting(db, key.setting)
            guard before != value else { return value }
            let now = WallClock.now()
            try Ledger.setSetting(db, key.setting, value, now: now)
            try Ledger.appendEvent(
                db, kind: "config", actor: actor,
                data: ["key": .string(key.rawValue), "value": JSONValue(value), "previous": JSONValue(before), "source": .string(source.rawValue)], now: now)
            return value
        }
    }
}
