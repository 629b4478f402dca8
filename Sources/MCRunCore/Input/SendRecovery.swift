import Glibc

/// Notes a sender leaves in `sends/` for a message tmux pasted when the ledger could not be
/// written afterwards (locked past the busy timeout, a full disk): the message is in the
/// pane, and whoever next settles the runtime's sends records it `pasted` from the note
/// instead of `uncertain`. A note is a file named by the message id holding the paste time.
struct SendNotes {
    let directory: String

    init(_ state: StateDirectory) { directory = state.path + "/sends" }

    func path(_ id: Int64) -> String { directory + "/\(id).pasted" }

    /// Writes the note; false when it could not be (the message then ends `uncertain`).
    func notePasted(id: Int64, at time: Double) -> Bool {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { return false }
        let fd = open(path(id), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array("\(time)\n".utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else { return false }
        return fsync(fd) == 0
    }

    /// When the noted message was pasted; nil without a note.
    func pastedAt(_ id: Int64) -> Double? {
        guard let bytes = ProcFS.readFile(path(id), limit: 64) else { return nil }
        return Double(String(decoding: bytes, as: UTF8.self).trimmingWhitespace()) ?? WallClock.now()
    }

    func remove(_ id: Int64) { unlink(path(id)) }

    /// Every noted message id.
    func all() -> [Int64] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var ids: [Int64] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasSuffix(".pasted"), let id = Int64(name.dropLast(7)) { ids.append(id) }
        }
        return ids.sorted()
    }
}

/// The tmux clients of senders. Each carries a marker naming the state directory and the
/// runtime in its environment, so a client left running by a sender that died (blocked on
/// a stopped server, or still streaming a large message) can be found and killed before it
/// pastes late, out of order.
enum SendClients {
    static func marker(_ context: MCRunContext, runtimeID: Int64) -> String {
        "MCRUN_SEND_CLIENT=\(context.stateDirectory.path)#\(runtimeID)"
    }

    /// Kills every process carrying `marker` and waits (up to two seconds) until they are
    /// gone; returns how many there were. Only called by the holder of the runtime's send
    /// lock, so no living sender's client carries the marker.
    static func killOrphans(marker: String) -> Int {
        let needle = Array(marker.utf8)
        let me = getpid()
        let orphans = ProcFS.allPIDs().filter { pid in
            pid != me && (ProcFS.environ(pid)?.contains(where: { $0 == needle }) ?? false)
        }
        for pid in orphans { kill(pid, SIGKILL) }
        let deadline = Instant.after(milliseconds: 2_000)
        while !deadline.hasPassed, orphans.contains(where: { ProcFS.stat($0).map { !$0.hasExited } ?? false }) {
            usleep(5_000)
        }
        return orphans.count
    }
}
