import ArgumentParser
import Glibc
import MCRunCore

struct RuntimeLogs: MCRunStreamingCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print a ticket's clean pane log (escape sequences and spinner redraws removed); -f follows it.",
        discussion: """
            Reads the log the pane-log hook writes; works without `mcrun serve`. With -f it keeps
            printing new output and exits once the runtime has ended and its log is drained, or
            on Ctrl-C. When the log was rotated away, the transcript tail saved at the end is shown.

            EXAMPLES:
              mcrun logs T-42 -n 100
              mcrun logs T-42 -f
              mcrun logs T-42 --episode 1 --raw > episode1.raw
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Ticket id.")
    var ticket: String

    @Option(name: .customShort("n"), parsing: .unconditional, help: "Only the last N lines, 0 to 1000000.", transform: Bounded.integer(Bounded.lines))
    var lines: Int?

    @Flag(name: .short, help: "Follow: print new output as it arrives.")
    var follow = false

    @Flag(help: "The raw pane bytes (escape sequences and all) instead of the clean log.")
    var raw = false

    @Option(parsing: .unconditional, help: "Episode (default: the latest).", transform: Bounded.integer(Bounded.episode))
    var episode: Int?

    func execute() throws(MCRunError) {
        let ticketID = try global.ticket(ticket)
        let context = try global.readContext()
        let runtime = try Self.find(context, ticket: ticketID, episode: episode)
        let log = context.stateDirectory.paneLogPath(runtimeID: runtime.id!)
        let path = raw ? PaneLog.rawPath(log) : log
        Streaming.prepare()

        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 && !follow {
            // Rotated away or never written: the tail saved when the runtime ended still tells the end.
            if !raw, let tail = runtime.transcriptTail {
                let shown = lines.map { Array(tail.split(separator: "\n", omittingEmptySubsequences: false).suffix($0)).joined(separator: "\n") } ?? tail
                Output.write("mcrun: \(path) is gone; showing the transcript tail saved when episode \(runtime.episode) ended\n", to: 2)
                emit(Array((shown + "\n").utf8))
                return
            }
            throw MCRunError(
                .notFound, "no_log",
                "no \(raw ? "raw " : "")pane log for \(runtime.ticket) episode \(runtime.episode) at \(path); the pane-log hook may not be installed\(raw ? " or was run without --raw" : "")"
            )
        }
        var reader = fd >= 0 ? LogReader(path: path, fd: fd) : nil
        if var r = reader {
            var initial = r.readToEnd()
            if let lines { initial = Self.lastLines(initial, lines) }
            guard emit(initial) else { return }
            reader = r
        }
        guard follow else { return }
        followLog(context, runtime: runtime, path: path, reader: reader)
    }

    /// Polls the file (bounded, 100 ms) and the ledger (every 500 ms); after the runtime has
    /// ended, drains until the pane-log hook is gone and the file stops growing.
    func followLog(_ context: MCRunContext, runtime: Runtime, path: String, reader start: LogReader?) {
        var reader = start
        var ended = !runtime.state.isLive
        var endedAt: Instant? = ended ? Instant.now : nil
        var nextLedgerCheck = Instant.now
        var quietPolls = 0
        while true {
            if reader == nil {
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                if fd >= 0 { reader = LogReader(path: path, fd: fd) }
            }
            var grew = false
            if var r = reader {
                let bytes = r.readNew()
                grew = !bytes.isEmpty
                if grew && !emit(bytes) { return }
                reader = r
            }
            quietPolls = grew ? 0 : quietPolls + 1
            let now = Instant.now
            if !ended && now >= nextLedgerCheck {
                nextLedgerCheck = now + .milliseconds(500)
                let current = try? context.ledger.runtime(id: runtime.id!)
                if let current, !current.state.isLive {
                    ended = true
                    endedAt = now
                }
            }
            if ended, quietPolls >= 3 {
                let drained = PaneLog.writers(path.hasSuffix(".raw") ? String(path.dropLast(4)) : path).isEmpty
                if drained || now - (endedAt ?? now) > .seconds(5) { return }
            }
            guard Streaming.pause(milliseconds: 100) else { return }
        }
    }

    @discardableResult
    func emit(_ bytes: [UInt8]) -> Bool {
        guard global.json else { return Streaming.write(bytes) }
        for line in PaneLog.lines(bytes) where !Streaming.writeLine(["line": .string(line)]) { return false }
        return true
    }

    static func lastLines(_ bytes: [UInt8], _ n: Int) -> [UInt8] {
        guard n > 0 else { return [] }
        var end = bytes.count
        if end > 0 && bytes[end - 1] == 0x0A { end -= 1 }
        var seen = 0
        var i = end
        while i > 0 {
            i -= 1
            if bytes[i] == 0x0A {
                seen += 1
                if seen == n { return Array(bytes[(i + 1)...]) }
            }
        }
        return bytes
    }

    /// The ticket's latest episode, or the one asked for.
    static func find(_ context: MCRunContext, ticket: TicketID, episode: Int?) throws(MCRunError) -> Runtime {
        let found = try context.ledger.runtime(ticket: ticket.rawValue, episode: episode)
        guard let found else {
            throw MCRunError(
                .notFound, "no_runtime", "ticket \(ticket)\(episode.map { " has no episode \($0)" } ?? " has no runtime"); see: mcrun show \(ticket)")
        }
        return found
    }
}

/// Reads a growing log file from where it left off, following it across a rotation (the
/// old file is drained before the new one is opened) and a truncation.
struct LogReader {
    let path: String
    var fd: Int32
    var offset: off_t = 0

    init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    mutating func readToEnd() -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: buffer[0..<n])
            offset += off_t(n)
        }
        return out
    }

    mutating func readNew() -> [UInt8] {
        var st = stat()
        if fstat(fd, &st) == 0, st.st_size < offset { offset = 0 }
        var out = readToEnd()
        var now = stat()
        // Rotated: the path names a new file. What was left in the old one is already read.
        if stat(path, &now) == 0, now.st_ino != st.st_ino || now.st_dev != st.st_dev {
            let next = open(path, O_RDONLY | O_CLOEXEC)
            if next >= 0 {
                out += readToEnd()
                close(fd)
                fd = next
                offset = 0
                out += readToEnd()
            }
        }
        return out
    }
}
