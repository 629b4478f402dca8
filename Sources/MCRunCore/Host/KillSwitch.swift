import GRDB

/// The host-wide kill switch: while on, nothing starts, is adopted, receives input or is
/// relaunched. Observing and stopping keep working.
public enum KillSwitch {
    public struct State: Sendable, Equatable {
        public var on: Bool
        public var reason: String?
        public var since: Double?
    }

    /// Turns the switch on or off; returns the new state and whether it changed.
    public static func set(_ on: Bool, reason: String?, ledger: Ledger, actor: String) throws(MCRunError) -> (State, Bool) {
        try ledger.write { db in
            let before = try Ledger.killSwitch(db)
            guard before.on != on else { return (before, false) }
            let now = WallClock.now()
            try Ledger.setSetting(db, .killswitch, on ? (reason ?? "no reason given") : nil, now: now)
            try Ledger.appendEvent(db, kind: "killswitch", actor: actor, reason: reason, data: ["on": .bool(on)], now: now)
            return (try Ledger.killSwitch(db), true)
        }
    }
}
