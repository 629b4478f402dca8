import Glibc
import PaneLogFilter

/// Reads the pane's bytes from stdin until EOF or a termination signal and
/// writes the transcript (and, with --raw, the bytes themselves).
struct Pump {
    /// Quiet time after which pending lines are written, so `mcrun logs -f`
    /// sees output promptly.
    static let idleMilliseconds: Int32 = 300
    /// While input never pauses (a spinner), settled lines are written this often.
    static let settleNanoseconds: UInt64 = 1_000_000_000

    private var filter = PaneLogFilter()
    private var log: RotatingLog
    private var raw: RotatingLog?

    init(arguments: PaneLogArguments) {
        log = RotatingLog(path: arguments.logPath, maxBytes: arguments.maxBytes, keep: arguments.keep, lineAligned: true)
        if arguments.raw {
            raw = RotatingLog(
                path: arguments.logPath + ".raw", maxBytes: arguments.maxBytes, keep: arguments.keep, lineAligned: false)
        }
    }

    /// Returns the exit status: 0, or 1 if reading or writing failed.
    mutating func run() -> Int32 {
        let signals = TerminationSignals.install()
        let capacity = 64 << 10
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        var readFailed = false
        var lastSettle = monotonicNanoseconds()
        var watched = [
            pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
            pollfd(fd: signals, events: Int16(POLLIN), revents: 0),
        ]
        loop: while true {
            let timeout = filter.hasUnflushedInput ? Self.idleMilliseconds : -1
            let ready = poll(&watched, nfds_t(watched.count), timeout)
            if ready < 0 {
                let code = errno
                if code == EINTR { continue }
                readFailed = report("cannot wait for input", code)
                break
            }
            if ready == 0 {
                filter.flush()
                drain()
                continue
            }
            if watched[1].revents != 0 { break }
            guard watched[0].revents != 0 else { continue }
            let count = read(STDIN_FILENO, buffer.baseAddress, capacity)
            if count == 0 { break }
            if count < 0 {
                let code = errno
                if code == EINTR || code == EAGAIN { continue loop }
                readFailed = report("cannot read the pane", code)
                break
            }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<count])
            raw?.write(chunk)
            filter.feed(chunk)
            let now = monotonicNanoseconds()
            if now - lastSettle >= Self.settleNanoseconds {
                filter.commitSettled()
                lastSettle = now
            }
            drain()
        }
        filter.finish()
        drain()
        log.close()
        raw?.close()
        return readFailed || log.hadError || raw?.hadError == true ? 1 : 0
    }

    private mutating func drain() {
        filter.drainOutput { log.write($0) }
    }

    private func report(_ what: String, _ code: Int32) -> Bool {
        writeLine("mcrun-pane-log: \(what): \(String(cString: strerror(code)))", to: STDERR_FILENO)
        return true
    }

    private func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
