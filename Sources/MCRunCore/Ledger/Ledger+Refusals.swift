import GRDB

/// A command refused for a ticket (busy, a policy, a declined adopt), coalesced per
/// (ticket, reason): `count` refusals since `windowStartedAt`, the first of which wrote the
/// `refused` event `eventID`.
public struct Refusal: Codable, Sendable, Equatable {
    public var ticket: String
    public var reason: String
    /// The command of the latest refusal (start, adopt, send).
    public var action: String
    /// Its exit code (4 busy, 5 refused, 6 declined).
    public var code: Int
    public var windowStartedAt: Double
    /// Refusals in the current window, the one that wrote the event included.
    public var count: Int
    /// Refusals ever, across windows.
    public var total: Int
    public var lastAt: Double
    public var eventID: Int64?

    enum CodingKeys: String, CodingKey {
        case ticket, reason, action, code
        case windowStartedAt = "window_started_at"
        case count, total
        case lastAt = "last_at"
        case eventID = "event_id"
    }
}

extension Ledger {
    /// Seconds during which refusals of one ticket for one reason fold into one event:
    /// `MCRUN_REFUSAL_WINDOW`, else 60.
    public static func refusalWindow(environment: [String: String]) -> Double {
        guard let text = environment["MCRUN_REFUSAL_WINDOW"], let seconds = Double(text), seconds >= 0, seconds.isFinite else {
            return 60
        }
        return seconds
    }

    /// Records a refusal in its own transaction. The first refusal of (ticket, reason) in a
    /// window writes a `refused` event (data: action, reason, code, count 1, window_seconds,
    /// and `suppressed`, how many refusals the previous window folded in without an event);
    /// later ones in the window only count. Returns the refusal as it now stands and the
    /// event when one was written.
    @discardableResult
    public func recordRefusal(
        ticket: String, action: String, reason: String, code: Int, runtimeID: Int64? = nil, window: Double, actor: String,
        now: Double = WallClock.now()
    ) throws(MCRunError) -> (refusal: Refusal, event: Event?) {
        try write { db in
            try Ledger.recordRefusal(
                db, ticket: ticket, action: action, reason: reason, code: code, runtimeID: runtimeID, window: window, actor: actor, now: now)
        }
    }

    static func recordRefusal(
        _ db: Database, ticket: String, action: String, reason: String, code: Int, runtimeID: Int64?, window: Double, actor: String,
        now: Double
    ) throws -> (refusal: Refusal, event: Event?) {
        if var current = try Refusal.fetchOne(db, key: ["ticket": ticket, "reason": reason]), now - current.windowStartedAt < window {
            current.count += 1
            current.total += 1
            current.lastAt = now
            current.action = action
            current.code = code
            try current.update(db)
            return (current, nil)
        }
        let previous = try Refusal.fetchOne(db, key: ["ticket": ticket, "reason": reason])
        var data: [String: JSONValue] = [
            "action": .string(action), "reason": .string(reason), "code": .int(Int64(code)), "count": .int(1),
            "window_seconds": .double(window),
        ]
        if let previous { data["suppressed"] = .int(Int64(previous.count - 1)) }
        if let runtimeID { data["runtime_id"] = .int(runtimeID) }
        let event = try appendEvent(db, kind: "refused", ticket: ticket, actor: actor, reason: reason, data: .object(data), now: now)
        let refusal = Refusal(
            ticket: ticket, reason: reason, action: action, code: code, windowStartedAt: now, count: 1,
            total: (previous?.total ?? 0) + 1, lastAt: now, eventID: event.id)
        try refusal.save(db)
        return (refusal, event)
    }

    /// A ticket's refusals, the latest first.
    static func refusals(_ db: Database, ticket: String) throws -> [Refusal] {
        try Refusal.fetchAll(db, sql: "SELECT * FROM refusals WHERE ticket = ? ORDER BY last_at DESC", arguments: [ticket])
    }
}
