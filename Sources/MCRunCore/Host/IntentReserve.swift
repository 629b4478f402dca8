import Glibc

/// Space kept aside, when the state directory is prepared, for what must hold while the
/// ledger cannot be written (a full disk, an immutable file, a lock held past the busy
/// timeout): stops and parks already carried out, and the kill switch.
///
/// `DIR/intents` is a file of fixed slots written with real bytes when it is made, so
/// that later writes overwrite space the file system has already given it: they succeed
/// on a 100%-full disk and beside an immutable ledger or directory. A slot is written
/// before the agent is signalled and cleared once the ledger has recorded what it says;
/// until then every writer of the ledger that meets the runtime's end records it as the
/// stop or park it was, never as a death, and admission treats a pending kill switch or
/// park as if the ledger held it. Slots are taken and cleared under an `flock` on the file.
public struct IntentReserve: Sendable {
    public let path: String

    static let slotSize = 512
    static let slotCount = 32
    static let fileSize = slotSize * slotCount
    /// Slot 0 holds the kill switch; the others hold stops and parks.
    static let killSwitchSlot = 0

    public init(directory: StateDirectory) { path = directory.path + "/intents" }

    /// The reserve beside a ledger file (for code that only has the ledger's path).
    init(ledgerPath: String) {
        let dir = ledgerPath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        path = (dir.isEmpty ? "" : dir) + "/intents"
    }

    public enum Kind: String, Sendable {
        case stop, park, killswitch
    }

    /// One thing done that the ledger has not recorded yet.
    public struct Intent: Sendable, Equatable {
        public var kind: Kind
        /// The ticket stopped or parked; empty for the kill switch.
        public var ticket: String
        /// The runtime stopped; nil for a park of a ticket with nothing running, and the kill switch.
        public var runtimeID: Int64?
        public var reason: String
        public var actor: String
        /// Wall-clock time it was done.
        public var at: Double
        /// The stopper's process, so a stop still in its grace period is left to it.
        public var stopperPID: Int32
        /// Its start time (clock ticks after boot), so a reused PID is not taken for it; nil
        /// in slots written before it was kept.
        public var stopperStartTime: UInt64?
        /// How the agent was ended, once it was: "signalled", "killed" or "gone".
        public var outcome: String = ""
        var slot = 0

        public init(kind: Kind, ticket: String, runtimeID: Int64?, reason: String, actor: String, at: Double, stopperPID: Int32? = nil) {
            self.kind = kind
            self.ticket = ticket
            self.runtimeID = runtimeID
            self.reason = reason
            self.actor = actor
            self.at = at
            self.stopperPID = stopperPID ?? getpid()
            stopperStartTime = ProcFS.stat(self.stopperPID)?.startTime
        }

        /// Whether the process that kept this intent has exited (with no start time kept, a
        /// process with its PID counts as it).
        public var stopperGone: Bool {
            guard let stopperStartTime else { return kill(stopperPID, 0) != 0 && errno == ESRCH }
            return Runtime.isGone(pid: stopperPID, startTime: Int64(stopperStartTime))
        }

        func encoded() -> [UInt8] {
            func clean(_ s: String, _ limit: Int) -> String {
                String(decoding: String(s.map { $0 == "\t" || $0 == "\n" || $0 == "\0" ? " " : $0 }).utf8.prefix(limit), as: UTF8.self)
            }
            let fields = [
                "v1", kind.rawValue, clean(ticket, 64), runtimeID.map(String.init) ?? "-", clean(reason, 160), clean(actor, 160),
                String(at), String(stopperPID), clean(outcome, 16), stopperStartTime.map(String.init) ?? "-",
            ]
            var bytes = Array(fields.joined(separator: "\t").utf8.prefix(IntentReserve.slotSize - 1))
            bytes.append(UInt8(ascii: "\n"))
            return bytes + Array(repeating: 0, count: IntentReserve.slotSize - bytes.count)
        }

        static func decode(_ bytes: ArraySlice<UInt8>, slot: Int) -> Intent? {
            guard let first = bytes.first, first != 0 else { return nil }
            let text = String(decoding: bytes.prefix(while: { $0 != 0 && $0 != UInt8(ascii: "\n") }), as: UTF8.self)
            let f = text.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 8, f[0] == "v1", let kind = Kind(rawValue: f[1]), let at = Double(f[6]), let pid = Int32(f[7]) else { return nil }
            var intent = Intent(kind: kind, ticket: f[2], runtimeID: Int64(f[3]), reason: f[4], actor: f[5], at: at, stopperPID: pid)
            intent.outcome = f.count > 8 ? f[8] : ""
            intent.stopperStartTime = f.count > 9 ? UInt64(f[9]) : nil
            intent.slot = slot
            return intent
        }
    }

    /// Makes the file, with every byte written, if it is missing or short. Nothing is
    /// reported when it cannot be made (a disk already full): a stop then says so itself.
    public func prepare() {
        var info = stat()
        if stat(path, &info) == 0 && Int(info.st_size) >= Self.fileSize { return }
        let temporary = path + ".new"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let zeros = [UInt8](repeating: 0, count: Self.fileSize)
        let written = zeros.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        if written == Self.fileSize && synced && rename(temporary, path) == 0 { return }
        unlink(temporary)
    }

    /// Every intent waiting to be recorded; empty when the file is missing or unreadable.
    public func pending() -> [Intent] {
        guard let bytes = read() else { return [] }
        return (0..<Self.slotCount).compactMap { slot in Intent.decode(bytes[(slot * Self.slotSize)..<((slot + 1) * Self.slotSize)], slot: slot) }
    }

    /// The kill switch held here, if it is on here.
    public func killSwitch() -> Intent? {
        pending().first { $0.kind == .killswitch }
    }

    /// Whether a park of `ticket` waits to be recorded.
    public func parkPending(ticket: String) -> Intent? {
        pending().first { $0.kind == .park && $0.ticket == ticket }
    }

    public enum ReserveError: Error, Sendable, CustomStringConvertible {
        case unavailable(String)
        case full

        public var description: String {
            switch self {
            case .unavailable(let why): "the reserve \(why)"
            case .full: "every slot of the reserve is taken"
            }
        }
    }

    /// Writes `intent` into a free slot (the kill switch into its own) and forces it to
    /// disk. Returns the intent with its slot, to update or clear it later.
    public func record(_ intent: Intent) throws(ReserveError) -> Intent {
        try locked { fd throws(ReserveError) -> Intent in
            guard let bytes = Self.readAll(fd) else { throw .unavailable("\(path) cannot be read") }
            var slot: Int?
            if intent.kind == .killswitch {
                slot = Self.killSwitchSlot
            } else {
                slot = (1..<Self.slotCount).first { bytes[$0 * Self.slotSize] == 0 }
            }
            guard let slot else { throw .full }
            var placed = intent
            placed.slot = slot
            try Self.write(fd, placed.encoded(), slot: slot, path: path)
            return placed
        }
    }

    /// Rewrites a recorded intent in place (its outcome, once the agent is gone).
    public func update(_ intent: Intent) {
        _ = try? locked { fd throws(ReserveError) in
            guard let bytes = Self.readAll(fd), Intent.decode(bytes[Self.range(intent.slot)], slot: intent.slot)?.at == intent.at else { return }
            try Self.write(fd, intent.encoded(), slot: intent.slot, path: path)
        }
    }

    /// Clears the slot of an intent the ledger now holds, unless it was reused meanwhile.
    public func clear(_ intent: Intent) {
        _ = try? locked { fd throws(ReserveError) in
            guard let bytes = Self.readAll(fd), let current = Intent.decode(bytes[Self.range(intent.slot)], slot: intent.slot),
                current.at == intent.at && current.kind == intent.kind && current.runtimeID == intent.runtimeID
            else { return }
            try Self.write(fd, [UInt8](repeating: 0, count: Self.slotSize), slot: intent.slot, path: path)
        }
    }

    private static func range(_ slot: Int) -> Range<Int> { (slot * slotSize)..<((slot + 1) * slotSize) }

    private func read() -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return Self.readAll(fd)
    }

    private static func readAll(_ fd: Int32) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: fileSize)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, fileSize, 0) }
        return n == fileSize ? bytes : nil
    }

    private static func write(_ fd: Int32, _ bytes: [UInt8], slot: Int, path: String) throws(ReserveError) {
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, slotSize, off_t(slot * slotSize)) }
        guard n == slotSize, fdatasync(fd) == 0 else { throw .unavailable("\(path) cannot be written: \(String(cString: strerror(errno)))") }
    }

    private func locked<T>(_ body: (Int32) throws(ReserveError) -> T) throws(ReserveError) -> T {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw .unavailable("\(path) cannot be opened: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        return try body(fd)
    }
}
