public import GRDB

/// The host-wide kill switch: while on, nothing starts, is adopted, receives input or is
/// relaunched. Observing and stopping keep working.
public enum KillSwitch {
    public struct State: Sendable, Equatable {
        public var on: Bool
        public var reason: String?
        public var since: Double?
    }

    public static func state(_ db: Database) throws -> State {
        guard let row = try Row.fetchOne(db, sql: "SELECT value, updated_at FROM settings WHERE key = ?", arguments: [Setting.killswitch.rawValue]) else {
            return State(on: false, reason: nil, since: nil)
        }
        return State(on: true, reason: row["value"], since: row["updated_at"])
    }

    /// Turns the switch on or off; returns the new state and whether it changed.
    public static func set(_ on: Bool, reason: String?, ledger: Ledger, actor: String) throws(MCRunError) -> (State, Bool) {
        try ledger.write { db in
            let before = try state(db)
            guard before.on != on else { return (before, false) }
            let now = WallClock.now()
            try Ledger.setSetting(db, .killswitch, on ? (reason ?? "no reason given") : nil, now: now)
            try Ledger.appendEvent(db, kind: "killswitch", actor: actor, reason: reason, data: ["on": .bool(on)], now: now)
            return (try state(db), true)
        }
    }
}
