import Foundation
import GRDB
import Glibc

/// Types text into an agent's pane: one bracketed paste (tmux `load-buffer` from stdin and
/// `paste-buffer -p -r`, so no shell and no key-name parsing ever sees the text), then
/// Enter. A busy agent gets a 409 unless the message is queued (delivered in order when
/// the agent is next idle) or the agent is interrupted first; so does an agent waiting for
/// a person (a permission prompt), with its own reason, since typed text would answer it.
public struct Sender: Sendable {
    public let context: MCRunContext

    public init(context: MCRunContext) { self.context = context }

    public enum Mode: Sendable, Equatable {
        /// Deliver now, or answer 409 if the agent is busy.
        case now
        /// Deliver now if idle, else keep it for the next idle moment.
        case queue
        /// Press the interrupt key, wait up to the bound for idle, then deliver.
        case interrupt(waitMilliseconds: Int)
    }

    public struct Outcome: Sendable {
        public var runtime: Runtime
        public var delivered: Bool
        /// The queue entry, when the message was queued.
        public var queuedID: Int64?
        /// A queued message delivered on the way (the queue goes first).
        public var flushedID: Int64?
        public var assessment: Activity.Assessment
        public var interrupted: Bool
        /// The message's id: every send has one; a queued message keeps its queue id.
        public var sendID: Int64?
        /// `pasted` (in the pane), or `pending` (queued).
        public var state: String
        /// False when the message is in the pane but the ledger could not be written after the
        /// paste: a note in `sends/` has it recorded `pasted` later (by the next send to the
        /// runtime, or `serve`); it is never typed again.
        public var recorded: Bool = true
        /// Why it could not be recorded.
        public var recordError: String?
    }

    /// How far one paste got.
    struct Delivery {
        var id: Int64
        var recorded: Bool
        var error: String?
    }

    /// The default interrupt key: Escape ends the turn in Claude Code and Codex without
    /// ending the program, where C-c (twice) exits several agents.
    public static let defaultInterruptKey = "Escape"

    public func send(ticket: TicketID, body: [UInt8], enter: Bool, mode: Mode) throws(MCRunError) -> Outcome {
        try PasteGuard.check(body)
        // A dead agent is recorded dead (counted once) instead of being typed at.
        if let died = try Ending(context: context).reapIfGone(ticket: ticket.rawValue), died.runtime.state == .dead {
            throw MCRunError(
                .declined, "agent_dead",
                "send declined: the agent of \(ticket) episode \(died.runtime.episode) is dead (its death is now recorded); nothing was typed; see: mcrun harvest \(ticket)",
                runtime: died.runtime)
        }
        let (runtime, settings, interruptKey) = try context.ledger.read { db in
            try (Self.target(db, ticket: ticket), Activity.Settings.load(db), Ledger.setting(db, .interruptKey) ?? Self.defaultInterruptKey)
        }
        let lock = try SendLock(context: context, runtimeID: runtime.id!)
        defer { lock.release() }
        try settleLeftovers(runtimeID: runtime.id!)

        var current = try refreshed(runtime)
        var assessment = assess(current, settings: settings, withScreen: true)
        var flushedID: Int64?
        // Messages queued earlier go first: deliver the oldest if the agent is idle now;
        // the agent is then busy with it and the new message waits (or is refused).
        // An interrupt is urgent and skips the queue.
        let flushes = mode == .now || mode == .queue
        if flushes, current.state == .running, !assessment.busy, try pendingCount(runtimeID: current.id!) > 0 {
            flushedID = try deliverHead(current, assessment: assessment)?.id
            if flushedID != nil {
                current = try refreshed(current)
                assessment = Activity.Assessment(busy: true, source: assessment.source, at: WallClock.now())
            }
        }
        var interrupted = false
        if current.state == .launching || assessment.busy {
            switch mode {
            case .now:
                throw busy(current, assessment, queued: flushedID != nil)
            case .queue:
                let id = try enqueue(current, body: body, enter: enter)
                return Outcome(
                    runtime: current, delivered: false, queuedID: id, flushedID: flushedID, assessment: assessment, interrupted: false, sendID: id,
                    state: "pending")
            case .interrupt(let wait):
                guard current.state == .running, let pane = context.pane(of: current)?.paneID else { throw busy(current, assessment, queued: false) }
                do {
                    try context.tmux.sendKey(interruptKey, to: pane)
                } catch {
                    throw MCRunError(
                        .internalError, "tmux_failed", "could not press \(interruptKey) in the pane of \(current.ticket): \(error)", runtime: current,
                        cause: error)
                }
                interrupted = true
                assessment = try waitForIdle(current, settings: settings, milliseconds: wait)
                if assessment.busy {
                    throw MCRunError(
                        .busy, "agent_busy", "\(current.ticket) is still mid-turn \(wait) ms after \(interruptKey); nothing was sent; retry, or use --queue",
                        runtime: current)
                }
                current = try refreshed(current)
            }
        }
        let delivery = try deliver(
            current, body: body, enter: enter, queueID: nil, mode: Self.name(mode),
            data: ["mode": .string(Self.name(mode)), "interrupted": .bool(interrupted), "busy_source": JSONValue(assessment.source?.rawValue)])
        // The message is in the pane: nothing after this may report it undelivered.
        let after = delivery.recorded ? (try? refreshed(current)) ?? current : current
        return Outcome(
            runtime: after, delivered: true, queuedID: nil, flushedID: flushedID, assessment: assessment, interrupted: interrupted,
            sendID: delivery.id, state: "pasted", recorded: delivery.recorded, recordError: delivery.error)
    }

    /// Waits up to `milliseconds` for the agent's receipt of a delivered message (see
    /// `DeliveryReceipt`); returns the message's state then: `confirmed`, or still `pasted`
    /// (no receipt yet, or an agent without a prompt hook).
    public func waitForReceipt(sendID: Int64, milliseconds: Int) throws(MCRunError) -> String {
        let deadline = Instant.after(milliseconds: milliseconds)
        while true {
            let state = try context.ledger.read { db in try Ledger.messageState(db, id: sendID) } ?? "unknown"
            if state == "confirmed" || deadline.hasPassed { return state == "delivering" ? "pasted" : state }
            usleep(20_000)
        }
    }

    /// Settles what an earlier sender to the runtime left `delivering`; the caller holds the
    /// runtime's send lock, so that sender is gone. One it noted as pasted (the ledger could
    /// not be written after its paste) is recorded `pasted` now. Any other died mid-paste:
    /// its tmux client, if still running, is killed first, so it cannot paste later and out
    /// of order, and the message is `uncertain`, never typed again.
    func settleLeftovers(runtimeID: Int64) throws(MCRunError) {
        let stuck = try context.ledger.read { db in try Ledger.deliveringMessages(db, runtimeID: runtimeID) }
        guard !stuck.isEmpty else { return }
        let notes = SendNotes(context.stateDirectory)
        let pasted = stuck.compactMap { id in notes.pastedAt(id).map { (id, $0) } }
        let lost = stuck.filter { notes.pastedAt($0) == nil }
        let killed = lost.isEmpty ? 0 : SendClients.killOrphans(marker: SendClients.marker(context, runtimeID: runtimeID))
        let actor = context.actor
        try context.ledger.write { db in
            let runtime = try Ledger.runtime(db, id: runtimeID)
            let now = WallClock.now()
            for (id, at) in pasted {
                try Ledger.markMessagePasted(db, id: id, at: at)
                try Ledger.appendEvent(
                    db, kind: "send", runtime: runtime, actor: actor, reason: "recorded_late",
                    data: ["send_id": .int(id), "state": "pasted", "pasted_at": .double(at), "recorded_late": true], now: now)
            }
            for id in lost where try Ledger.markMessageUncertain(db, id: id, error: "its sender died during the paste") {
                try Ledger.appendEvent(
                    db, kind: "send_uncertain", runtime: runtime, actor: actor, reason: "sender_died",
                    data: ["send_id": .int(id), "tmux_clients_killed": .int(Int64(killed))], now: now)
            }
        }
        for (id, _) in pasted { notes.remove(id) }
    }

    /// Settles the runtimes whose messages were left `delivering` by a sender that is gone
    /// (its send lock is free), so a dead sender's tmux client is killed even when no
    /// other send comes; `serve` calls this on each pass. Returns how many were settled.
    @discardableResult
    public func settleAbandoned() throws(MCRunError) -> Int {
        var settled = 0
        for runtimeID in try context.ledger.runtimesWithDeliveringMessages() {
            // A sender still holding the lock is alive and still pasting: not abandoned.
            guard let lock = try? SendLock(context: context, runtimeID: runtimeID, timeoutMilliseconds: 0) else { continue }
            defer { lock.release() }
            try settleLeftovers(runtimeID: runtimeID)
            settled += 1
        }
        return settled
    }

    /// Records every message noted as pasted whose sender could not write the ledger (see
    /// `SendNotes`); `serve` calls this on each pass of its send-queue drain. Returns how
    /// many were recorded.
    @discardableResult
    public func recordNotedPastes() throws(MCRunError) -> Int {
        let notes = SendNotes(context.stateDirectory)
        let ids = notes.all()
        guard !ids.isEmpty else { return 0 }
        let actor = context.actor
        let recorded = try context.ledger.write { db -> Int in
            var count = 0
            let now = WallClock.now()
            for id in ids {
                guard let (runtimeID, state) = try Ledger.message(db, id: id), state == "delivering", let at = notes.pastedAt(id) else { continue }
                try Ledger.markMessagePasted(db, id: id, at: at)
                try Ledger.appendEvent(
                    db, kind: "send", runtime: try Ledger.runtime(db, id: runtimeID), actor: actor, reason: "recorded_late",
                    data: ["send_id": .int(id), "state": "pasted", "pasted_at": .double(at), "recorded_late": true], now: now)
                count += 1
            }
            return count
        }
        for id in ids { notes.remove(id) }
        return recorded
    }

    /// Delivers the oldest queued message of a runtime whose agent is idle. The activity
    /// hook calls this right after the agent reports idle, so queues drain without `serve`;
    /// the service may call it too. Returns the delivered entry's id.
    @discardableResult
    public func deliverNext(runtimeID: Int64) throws(MCRunError) -> Int64? {
        let settings = try context.ledger.read { db in try Activity.Settings.load(db) }
        guard try pendingCount(runtimeID: runtimeID) > 0 else { return nil }
        let lock = try SendLock(context: context, runtimeID: runtimeID)
        defer { lock.release() }
        try settleLeftovers(runtimeID: runtimeID)
        guard let runtime = try context.ledger.read({ db in try Ledger.runtime(db, id: runtimeID) }), runtime.state == .running else { return nil }
        let stopped = try context.ledger.read { db in try Ledger.killSwitch(db).on }
        if stopped { return nil }
        let assessment = assess(runtime, settings: settings, withScreen: true)
        guard !assessment.busy, runtime.liveness() == .alive else { return nil }
        return try deliverHead(runtime, assessment: assessment)?.id
    }

    // MARK: - Steps

    /// The ticket's runtime as `send` may address it, checked in one read.
    static func target(_ db: Database, ticket: TicketID) throws -> Runtime {
        let id = ticket.rawValue
        try Policy.checkKillSwitch(db, action: "send")
        if let t = try Ledger.ticket(db, id: id) { try Policy.checkNotParked(t, action: "send") }
        guard let runtime = try Ledger.liveRuntime(db, ticket: id) else {
            throw MCRunError(.notFound, "no_runtime", "ticket \(id) has no live runtime to send to; see: mcrun ps --all")
        }
        try Self.checkAddressable(runtime)
        return runtime
    }

    static func checkAddressable(_ runtime: Runtime) throws(MCRunError) {
        switch runtime.state {
        case .launching:
            return
        case .running:
            switch runtime.liveness() {
            case .alive?: return
            case .unknown?, nil:
                throw MCRunError(
                    .refused, "liveness_unknown", "send refused: whether the agent of \(runtime.ticket) is alive cannot be determined; nothing was sent",
                    runtime: runtime)
            case let other?:
                throw MCRunError(
                    .declined, "agent_dead",
                    "send declined: the agent of \(runtime.ticket) episode \(runtime.episode) is gone (\(other.rawValue)); nothing was sent", runtime: runtime)
            }
        default:
            throw MCRunError(
                .declined, "not_running", "send declined: \(runtime.ticket) episode \(runtime.episode) is \(runtime.state.rawValue); nothing was sent",
                runtime: runtime)
        }
    }

    private func refreshed(_ runtime: Runtime) throws(MCRunError) -> Runtime {
        let id = runtime.id!
        let current = try context.ledger.read { db in
            try Policy.checkKillSwitch(db, action: "send")
            return try Ledger.runtime(db, id: id)
        }
        guard let current else { throw .internalError("runtime \(id) vanished from the ledger") }
        try Self.checkAddressable(current)
        return current
    }

    private func assess(_ runtime: Runtime, settings: Activity.Settings, withScreen: Bool) -> Activity.Assessment {
        // Agents whose hooks report only the end of a turn (Codex, Aider) are also read from the pane.
        if Activity.hasHookReports(runtime), runtime.agentKind?.reportsTurnStarts ?? true {
            return Activity.assess(runtime, pane: nil, settings: settings)
        }
        let pane = context.pane(of: runtime)
        return Activity.assess(runtime, pane: pane, settings: settings) {
            guard withScreen, let pane else { return nil }
            return context.tmux.capture(pane.paneID)
        }
    }

    private func busy(_ runtime: Runtime, _ assessment: Activity.Assessment, queued: Bool) -> MCRunError {
        if assessment.waiting, !queued {
            let what = runtime.waitingFor.map { " (\($0))" } ?? ""
            return MCRunError(
                .busy, "agent_waiting",
                "the agent of \(runtime.ticket) is waiting for a person\(what); typed text would answer its prompt, so nothing was sent; answer it in the agent's pane (mcrun attach \(runtime.ticket) --rw), use --queue to deliver when it is next idle, or --interrupt",
                runtime: runtime)
        }
        if runtime.state == .launching {
            return MCRunError(
                .busy, "agent_busy", "\(runtime.ticket) episode \(runtime.episode) is still launching; nothing was sent; retry, or use --queue",
                runtime: runtime)
        }
        let why = queued ? "was just given the oldest queued message" : "is mid-turn (by \(assessment.source?.rawValue ?? "unknown"))"
        return MCRunError(
            .busy, "agent_busy", "the agent of \(runtime.ticket) \(why); nothing was sent; use --queue to deliver when idle, or --interrupt", runtime: runtime)
    }

    private func waitForIdle(_ runtime: Runtime, settings: Activity.Settings, milliseconds: Int) throws(MCRunError) -> Activity.Assessment {
        let deadline = Instant.after(milliseconds: milliseconds)
        while true {
            let current = try context.ledger.read { db in try Ledger.runtime(db, id: runtime.id!) } ?? runtime
            let assessment = assess(current, settings: settings, withScreen: true)
            if !assessment.busy || deadline.hasPassed { return assessment }
            usleep(Activity.hasHookReports(current) ? 20_000 : 200_000)
        }
    }

    private func pendingCount(runtimeID: Int64) throws(MCRunError) -> Int {
        try context.ledger.read { db in
            try Ledger.pendingMessageCount(db, runtimeID: runtimeID)
        }
    }

    private func enqueue(_ runtime: Runtime, body: [UInt8], enter: Bool) throws(MCRunError) -> Int64 {
        let actor = context.actor
        return try context.ledger.write { db in
            // Re-checked in the queueing transaction: a park or kill switch that came first wins.
            _ = try Self.target(db, ticket: runtime.ticketID)
            let now = WallClock.now()
            let id = try Ledger.queueMessage(db, runtime: runtime, body: body, enter: enter, actor: actor, now: now)
            try Ledger.appendEvent(
                db, kind: "send_queued", runtime: runtime, actor: actor, data: ["queue_id": .int(id), "bytes": .int(Int64(body.count))], now: now)
            return id
        }
    }

    /// Claims the oldest pending message (marking it `delivering` first, so a crash in the
    /// middle shows as `uncertain`, never as delivered), pastes it, then records it. The
    /// caller settled what an earlier sender left `delivering`.
    private func deliverHead(_ runtime: Runtime, assessment: Activity.Assessment) throws(MCRunError) -> Delivery? {
        let claimed = try context.ledger.write { db -> (Int64, [UInt8], Bool)? in
            try Ledger.claimNextMessage(db, runtimeID: runtime.id!).map { ($0.id, $0.body, $0.enter) }
        }
        guard let (id, body, enter) = claimed else { return nil }
        return try deliver(
            runtime, body: body, enter: enter, queueID: id, mode: "queue", data: ["mode": "queued", "busy_source": JSONValue(assessment.source?.rawValue)])
    }

    /// Pastes one message. Before the paste the message is recorded `delivering` (a direct
    /// send gets its row and id here), after it `pasted`. Once tmux has pasted it, the
    /// message is delivered whatever happens next: a ledger that cannot be written then
    /// leaves a note (`SendNotes`) and the delivery is returned not recorded.
    private func deliver(_ runtime: Runtime, body: [UInt8], enter: Bool, queueID: Int64?, mode: String, data: JSONValue) throws(MCRunError) -> Delivery {
        let actor = context.actor
        // The pane as tmux has it now, checked against the session's name: a recorded `%N`
        // may name another ticket's pane after a tmux restart.
        guard let pane = context.pane(of: runtime)?.paneID else {
            try markQueued(queueID, failed: "the runtime has no pane")
            throw MCRunError(
                .internalError, "no_pane", "\(runtime.ticket) episode \(runtime.episode) has no tmux pane recorded; nothing was sent", runtime: runtime)
        }
        do {
            // Checked on the way in too; a message queued by an earlier version is failed here.
            try PasteGuard.check(body)
        } catch {
            try markQueued(queueID, failed: error.message)
            throw error
        }
        let id: Int64
        if let queueID {
            id = queueID
        } else {
            id = try context.ledger.write { db in
                try Ledger.recordDirectMessage(
                    db, runtime: runtime, bytes: body.count, digest: DeliveryReceipt.digest(body), enter: enter, mode: mode, actor: actor,
                    now: WallClock.now())
            }
        }
        do {
            try context.tmux.paste(
                body, into: pane, buffer: "mcrun-send-\(runtime.id!)", enter: enter, marker: SendClients.marker(context, runtimeID: runtime.id!))
        } catch {
            // Killed at its deadline, tmux may have pasted some or all of it: uncertain.
            let timedOut = (error as? TmuxServer.Failure)?.timedOut ?? false
            try? context.ledger.write { db in
                try Ledger.markMessageFailed(db, id: id, error: "\(error)", uncertain: timedOut)
                try Ledger.appendEvent(
                    db, kind: timedOut ? "send_uncertain" : "send_failed", runtime: runtime, actor: actor, reason: timedOut ? "tmux_timeout" : "tmux_failed",
                    data: ["send_id": .int(id), "error": .string("\(error)")])
            }
            throw MCRunError(
                .internalError, "tmux_failed",
                "could not paste into the pane of \(runtime.ticket): \(error)\(timedOut ? "; part of message \(id) may be in the pane (uncertain)" : "")",
                runtime: runtime, cause: error)
        }
        let pastedAt = WallClock.now()
        do {
            try record(runtime, id: id, body: body, enter: enter, queueID: queueID, pastedAt: pastedAt, data: data)
            return Delivery(id: id, recorded: true)
        } catch {
            let noted = SendNotes(context.stateDirectory).notePasted(id: id, at: pastedAt)
            return Delivery(
                id: id, recorded: false,
                error: error.message + (noted ? "" : "; nor could a note be written, so the next send records it uncertain"))
        }
    }

    private func record(
        _ runtime: Runtime, id: Int64, body: [UInt8], enter: Bool, queueID: Int64?, pastedAt now: Double, data: JSONValue
    ) throws(MCRunError) {
        let actor = context.actor
        try context.ledger.write { db in
            try Ledger.markMessagePasted(db, id: id, at: now)
            // An agent that reports through hooks is busy from the moment it has input; its
            // own busy report follows. Without hooks, the pane's output says so by itself.
            if Activity.hasHookReports(runtime) {
                try Ledger.markHookReportingRuntimeBusy(db, runtimeID: runtime.id!, now: now)
            }
            var fields: [String: JSONValue] = [
                "send_id": .int(id), "state": "pasted", "bytes": .int(Int64(body.count)), "enter": .bool(enter), "queue_id": JSONValue(queueID),
            ]
            if case .object(let extra) = data { fields.merge(extra) { _, new in new } }
            try Ledger.appendEvent(db, kind: "send", runtime: runtime, actor: actor, data: .object(fields), now: now)
        }
    }

    private func markQueued(_ queueID: Int64?, failed error: String) throws(MCRunError) {
        guard let queueID else { return }
        try context.ledger.write { db in
            try Ledger.markMessageFailed(db, id: queueID, error: error)
        }
    }

    static func name(_ mode: Mode) -> String {
        switch mode {
        case .now: "now"
        case .queue: "queue"
        case .interrupt: "interrupt"
        }
    }
}

/// One message (a send, direct or queued), as `show` and `ps` list it. `state`: `pending`
/// (queued), `delivering`, `pasted` (in the pane), `confirmed` (the agent's prompt hook
/// received it), `uncertain` (its sender died mid-paste), `failed`.
public struct QueuedMessage: Sendable, Equatable {
    public var id: Int64
    public var runtimeID: Int64
    public var state: String
    /// How it was sent: `now`, `interrupt`, or `queue`.
    public var mode: String
    public var bytes: Int
    public var createdAt: Double
    /// When tmux pasted it.
    public var deliveredAt: Double?
    public var confirmedAt: Double?
    public var error: String?

    /// A runtime's messages, oldest first, without their bodies.
    static func list(_ db: Database, runtimeID: Int64) throws -> [QueuedMessage] {
        try Ledger.queuedMessages(db, runtimeID: runtimeID)
    }
}

/// Serialises sends to one runtime across processes: two pastes never interleave and the
/// queue drains in order. An flock dies with its holder, so a crashed sender blocks no one.
struct SendLock {
    let fd: Int32

    init(context: MCRunContext, runtimeID: Int64, timeoutMilliseconds: Int = 30_000) throws(MCRunError) {
        let dir = context.stateDirectory.path + "/locks"
        if mkdir(dir, 0o700) != 0 && errno != EEXIST {
            throw .internalError("cannot create \(dir): \(String(cString: strerror(errno)))")
        }
        let path = dir + "/send-\(runtimeID).lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .internalError("cannot open \(path): \(String(cString: strerror(errno)))") }
        let deadline = Instant.after(milliseconds: timeoutMilliseconds)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR, !deadline.hasPassed else {
                close(fd)
                throw MCRunError(.busy, "send_in_progress", "another send to runtime \(runtimeID) is still in progress; retry")
            }
            usleep(10_000)
        }
        self.fd = fd
    }

    func release() { close(fd) }
}
