import GRDB

/// The host-wide kill switch: while on, nothing starts, is adopted, receives input or is
/// relaunched. Observing and stopping keep working.
public enum KillSwitch {
    public struct State: Sendable, Equatable {
        public var on: Bool
        public var reason: String?
        public var since: Double?
        /// On in the state directory's reserve only: turned on while the ledger could not be
        /// written, and recorded there as soon as it can be.
        public var unrecorded = false
    }

    /// Turns the switch on or off; returns the new state and whether it changed.
    ///
    /// Turning it on when the ledger cannot be written holds it in the state directory's
    /// reserve, which every check reads too: exit 8 (`killswitch_unrecorded`). Turning it off
    /// needs the ledger (a switch that cannot be recorded off stays on), and clears the reserve.
    public static func set(_ on: Bool, reason: String?, ledger: Ledger, actor: String) throws(MCRunError) -> (State, Bool) {
        let reserve = IntentReserve(ledgerPath: ledger.path)
        let result: (State, Bool)
        do throws(MCRunError) {
            result = try record(on, reason: reason, ledger: ledger, actor: actor)
        } catch  where on && error.ledgerUnwritable {
            try holdUnrecorded(reason: reason, reserve: reserve, actor: actor, cause: error)
        }
        if let held = reserve.killSwitch() {
            if on {
                // Recorded now; the reserve's copy is no longer needed.
                reserve.clear(held)
            } else {
                reserve.clear(held)
                return (result.0, true)
            }
        }
        return result
    }

    private static func record(_ on: Bool, reason: String?, ledger: Ledger, actor: String) throws(MCRunError) -> (State, Bool) {
        try ledger.write { db in
            let before = try Ledger.recordedKillSwitch(db)
            guard before.on != on else { return (before, false) }
            let now = WallClock.now()
            try Ledger.setSetting(db, .killswitch, on ? (reason ?? "no reason given") : nil, now: now)
            try Ledger.appendEvent(db, kind: "killswitch", actor: actor, reason: reason, data: ["on": .bool(on)], now: now)
            return (try Ledger.killSwitch(db), true)
        }
    }
}
