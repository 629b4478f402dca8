import GRDB

/// What an agent reports about its work: done, ready for review, or a question for a person.
public enum SignalKind: String, Codable, Sendable, CaseIterable {
    case done = "DONE"
    case review = "REVIEW"
    case question = "QUESTION"
}

/// One reported signal, a row of `signals`. Stored as `received` before it is judged, then
/// `accepted` or `quarantined` with the reason; the nonce it came with is never stored.
public struct CompletionSignal: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        case received, accepted, quarantined
    }

    public var id: Int64?
    public var at: Double
    public var ticket: String
    public var episode: Int
    public var runtimeID: Int64?
    public var kind: SignalKind
    public var payload: JSONValue
    public var state: State
    /// For a quarantined signal: bad_nonce, stale_episode, ticket_parked, runtime_ended,
    /// unknown_episode, or unverified (stored by a process that died before judging it).
    public var reason: String?
    public var decidedAt: Double?
    public var actor: String

    enum CodingKeys: String, CodingKey {
        case id, at, ticket, episode
        case runtimeID = "runtime_id"
        case kind, payload, state, reason
        case decidedAt = "decided_at"
        case actor
    }

    public var json: JSONValue {
        [
            "id": JSONValue(id), "at": .double(at), "ticket": .string(ticket), "episode": .int(Int64(episode)),
            "runtime_id": JSONValue(runtimeID), "kind": .string(kind.rawValue), "payload": payload,
            "state": .string(state.rawValue), "reason": JSONValue(reason), "decided_at": JSONValue(decidedAt),
        ]
    }
}

/// Stores and judges completion signals. The store comes first, in its own transaction, so
/// a signal is on record even if judging it fails; judging is a second transaction that
/// checks the credentials against the live episode (`EpisodeCredentials.verify`).
public enum CompletionSignals {
    /// The largest payload a signal may carry, in bytes of JSON.
    public static let maxPayloadBytes = 64 << 10

    /// The nonce only proves who sent a signal at the moment it is judged, so it is held in
    /// memory between the two transactions and never written down.
    public static func submit(
        _ ledger: Ledger, credentials: EpisodeCredentials, kind: SignalKind, payload: JSONValue, actor: String
    ) throws(MCRunError) -> CompletionSignal {
        var signal = CompletionSignal(
            id: nil, at: WallClock.now(), ticket: credentials.ticket.rawValue, episode: credentials.episode, runtimeID: nil,
            kind: kind, payload: payload, state: .received, actor: actor)
        try ledger.write { db in try Ledger.insertSignal(db, &signal) }
        return try ledger.write { db in
            try judgePending(db, actor: actor, except: signal.id)
            return try judge(db, signal, credentials: credentials, actor: actor)
        }
    }

    struct Rejected: Error { var reason: String }

    /// Decides one received signal inside `db`'s transaction.
    static func judge(_ db: Database, _ received: CompletionSignal, credentials: EpisodeCredentials?, actor: String) throws -> CompletionSignal {
        var signal = received
        let now = WallClock.now()
        signal.decidedAt = now
        let verdict: Result<Runtime, Rejected>
        if let credentials {
            verdict = try credentials.verify(db).mapError { Rejected(reason: $0.rawValue) }
        } else {
            // Its sender's nonce was lost with the process that stored it: it cannot be verified.
            verdict = .failure(Rejected(reason: "unverified"))
        }
        switch verdict {
        case .success(let runtime):
            signal.state = .accepted
            signal.runtimeID = runtime.id
            try Ledger.updateSignal(db, signal)
            // DONE is final for the episode: a later REVIEW or QUESTION does not undo it.
            let firstDone = signal.kind == .done && runtime.verdict != .done
            let newVerdict: SignalKind = runtime.verdict == .done ? .done : signal.kind
            try Ledger.setVerdict(db, runtimeID: runtime.id!, newVerdict, now: now)
            var updated = runtime
            updated.verdict = newVerdict
            let previousDeaths = try Ledger.ticket(db, id: runtime.ticket)?.deaths ?? 0
            if firstDone { try TicketTransition.completion.apply(db, ticket: runtime.ticket, actor: actor, now: now) }
            try Ledger.appendEvent(
                db, kind: firstDone ? "completion" : "signal", runtime: updated, actor: actor, reason: signal.kind.rawValue,
                data: [
                    "signal_id": JSONValue(signal.id), "signal": .string(signal.kind.rawValue), "payload": signal.payload,
                    "deaths_reset": .bool(firstDone && previousDeaths > 0),
                ], now: now)
        case .failure(let rejection):
            signal.state = .quarantined
            signal.reason = rejection.reason
            let runtime = try Ledger.runtime(db, ticket: signal.ticket, episode: signal.episode)
            signal.runtimeID = runtime?.id
            try Ledger.updateSignal(db, signal)
            try Ledger.appendEvent(
                db, kind: "quarantine", ticket: signal.ticket, runtime: runtime, actor: actor, reason: rejection.reason,
                data: ["signal_id": JSONValue(signal.id), "signal": .string(signal.kind.rawValue), "episode": .int(Int64(signal.episode))],
                now: now)
        }
        return signal
    }

    /// Signals stored by a process that died before judging them: quarantined, since the
    /// nonce that would prove them is gone. Returns how many were judged.
    @discardableResult
    static func judgePending(_ db: Database, actor: String, except: Int64? = nil, olderThan age: Double = 5) throws -> Int {
        let pending = try Ledger.unjudgedSignals(db, receivedBefore: WallClock.now() - age, except: except)
        for signal in pending { _ = try judge(db, signal, credentials: nil, actor: actor) }
        return pending.count
    }

    /// The accepted signal that stands for the runtime: its DONE if any, else the latest.
    static func standing(_ db: Database, runtimeID: Int64) throws -> CompletionSignal? {
        let accepted = try Ledger.acceptedSignals(db, runtimeID: runtimeID)
        return accepted.first { $0.kind == .done } ?? accepted.first
    }
}
