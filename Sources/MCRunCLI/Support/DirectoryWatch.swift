import Glibc

/// Wakes when files whose names start with a prefix change in one directory (inotify):
/// `ps --watch` redraws when the ledger or its WAL is written, not on a timer.
final class DirectoryWatch {
    private let fd: Int32
    private let prefix: [UInt8]

    /// Without inotify (fd -1) every wait simply lasts its full time.
    init(directory: String, namePrefix: String) {
        prefix = Array(namePrefix.utf8)
        fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        if fd >= 0 {
            _ = inotify_add_watch(fd, directory, UInt32(IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_DELETE))
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Returns once a matching file changed or `milliseconds` passed: true, or false as soon
    /// as `stop()` says so (checked every 100 ms, since a signal may land on another thread).
    /// A burst of writes (one transaction touches the WAL several times) is one wake-up.
    func wait(milliseconds: Int, stop: () -> Bool) -> Bool {
        var left = milliseconds
        while left > 0 {
            if stop() { return false }
            let slice = min(left, 100)
            if readMatches(timeout: slice) {
                // Coalesce the rest of the burst.
                while readMatches(timeout: 30) {}
                return !stop()
            }
            left -= slice
        }
        return !stop()
    }

    /// Waits up to `timeout` ms for inotify events; true when one names a matching file.
    private func readMatches(timeout: Int) -> Bool {
        guard fd >= 0 else {
            usleep(useconds_t(timeout * 1000))
            return false
        }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(timeout)) > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 8192)
        var matched = false
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { break }
            var offset = 0
            let header = MemoryLayout<inotify_event>.size
            while offset + header <= n {
                let length = buffer.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: offset, as: inotify_event.self).len) }
                let name = buffer[(offset + header)..<min(n, offset + header + length)].prefix { $0 != 0 }
                if name.starts(with: prefix) { matched = true }
                offset += header + length
            }
        }
        return matched
    }
}
