import Glibc

/// An append-only file kept under `maxBytes` by renaming it to `PATH.1`,
/// `PATH.1` to `PATH.2` and so on up to `keep` files. Write errors are
/// reported on one stderr line per streak of failures and otherwise
/// swallowed: the pane must keep being drained whatever happens to the disk.
struct RotatingLog {
    let path: String
    let maxBytes: Int
    let keep: Int
    /// Rotate only after a newline, so no line is split across files
    /// (unless one line alone is longer than `maxBytes`).
    let lineAligned: Bool

    private var descriptor: Int32 = -1
    private var size = 0
    private var isRegularFile = false
    private var failing = false
    private(set) var hadError = false

    init(path: String, maxBytes: Int, keep: Int, lineAligned: Bool) {
        self.path = path
        self.maxBytes = maxBytes
        self.keep = keep
        self.lineAligned = lineAligned
        _ = open()
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        var rest = bytes
        while !rest.isEmpty {
            guard descriptor >= 0 || open() else { return }
            // A device or pipe (a test's /dev/full, a FIFO) cannot be rotated.
            guard isRegularFile else {
                writeAll(rest)
                return
            }
            let room = maxBytes - size
            if rest.count <= room {
                writeAll(rest)
                return
            }
            var cut = max(room, 0)
            if lineAligned && cut > 0 {
                if let newline = lastNewline(in: UnsafeRawBufferPointer(rebasing: rest[..<cut])) {
                    cut = newline + 1
                } else if size > 0 {
                    cut = 0  // start this line in the next file instead
                }
            }
            if cut > 0 {
                guard writeAll(UnsafeRawBufferPointer(rebasing: rest[..<cut])) else { return }
                rest = UnsafeRawBufferPointer(rebasing: rest[cut...])
            }
            rotate()
            if descriptor >= 0 && size >= maxBytes {
                // Rotation freed nothing (already reported): write rather than spin.
                writeAll(rest)
                return
            }
        }
    }

    mutating func close() {
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
        descriptor = -1
    }

    // MARK: Private

    private mutating func open() -> Bool {
        // Readable by the state directory's group (the operators who run `mcrun logs`),
        // never by others: a transcript is as private as the session it records.
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            let code = errno
            fail("cannot open \(path)", code)
            return false
        }
        var status = stat()
        if fstat(fd, &status) == 0 {
            isRegularFile = status.st_mode & S_IFMT == S_IFREG
            size = Int(status.st_size)
            // An older file may have been created with a laxer mode.
            if isRegularFile && status.st_mode & 0o037 != 0 { _ = fchmod(fd, 0o640) }
        }
        descriptor = fd
        return true
    }

    private mutating func rotate() {
        if keep == 0 {
            if ftruncate(descriptor, 0) != 0 {
                let code = errno
                fail("cannot truncate \(path)", code)
            }
            size = 0
            return
        }
        close()
        for generation in stride(from: keep - 1, through: 1, by: -1) {
            _ = rename("\(path).\(generation)", "\(path).\(generation + 1)")
        }
        if rename(path, "\(path).1") != 0 {
            let code = errno
            // Could not move it aside: start it over rather than outgrow the bound.
            fail("cannot rotate \(path)", code)
            _ = truncate(path, 0)
        }
        _ = open()
    }

    @discardableResult
    private mutating func writeAll(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let start = bytes.baseAddress else { return true }
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, start + offset, bytes.count - offset)
            if written < 0 {
                let code = errno
                if code == EINTR { continue }
                fail("cannot write \(path)", code)
                return false
            }
            offset += written
            size += written
        }
        failing = false
        return true
    }

    private func lastNewline(in bytes: UnsafeRawBufferPointer) -> Int? {
        var index = bytes.count - 1
        while index >= 0 {
            if bytes[index] == 0x0A { return index }
            index -= 1
        }
        return nil
    }

    /// `code` is read right after the failing call: building the message
    /// may allocate and disturb errno.
    private mutating func fail(_ what: String, _ code: Int32) {
        let reason = String(cString: strerror(code))
        hadError = true
        guard !failing else { return }
        failing = true
        writeLine("mcrun-pane-log: \(what): \(reason) (output is dropped until it works again)", to: STDERR_FILENO)
    }
}

/// One line to a descriptor, with plain write(2): stdio's globals are not
/// concurrency-safe in Swift 6.
func writeLine(_ text: String, to descriptor: Int32) {
    var line = Array(text.utf8)
    line.append(0x0A)
    line.withUnsafeBytes { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return }
            offset += written
        }
    }
}
