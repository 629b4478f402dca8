extension Ledger {
    /// Whether the kill switch is on, why and since when.
    public func killSwitchState() throws(MCRunError) -> KillSwitch.State {
        try read { db in try KillSwitch.state(db) }
    }

    /// The stored value of each setting, in the order asked; nil where unset.
    public func settings(_ keys: [HostConfig.Key]) throws(MCRunError) -> [(key: HostConfig.Key, value: String?)] {
        try read { db in try keys.map { ($0, try HostConfig.value(db, $0)) } }
    }
}
