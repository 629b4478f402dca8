import GRDB

/// Completion signals (`signals`): stored as received, then judged. `CompletionSignals`
/// decides; these only read and write.
extension Ledger {
    static func insertSignal(_ db: Database, _ signal: inout CompletionSignal) throws {
        try signal.insert(db)
    }

    static func updateSignal(_ db: Database, _ signal: CompletionSignal) throws {
        try signal.update(db)
    }

    /// The runtime's verdict, from an accepted signal; not a state change.
    static func setVerdict(_ db: Database, runtimeID: Int64, _ verdict: SignalKind, now: Double) throws {
        try db.execute(
            sql: "UPDATE runtimes SET verdict = ?, verdict_at = ?, updated_at = ? WHERE id = ?", arguments: [verdict.rawValue, now, now, runtimeID])
    }

    /// Signals still `received` that were stored before `cutoff`, oldest first, but `except`.
    static func unjudgedSignals(_ db: Database, receivedBefore cutoff: Double, except: Int64?) throws -> [CompletionSignal] {
        try CompletionSignal.fetchAll(
            db, sql: "SELECT * FROM signals WHERE state = 'received' AND at < ? AND id != ? ORDER BY id", arguments: [cutoff, except ?? -1])
    }

    /// The runtime's accepted signals, newest first.
    static func acceptedSignals(_ db: Database, runtimeID: Int64) throws -> [CompletionSignal] {
        try CompletionSignal.fetchAll(db, sql: "SELECT * FROM signals WHERE runtime_id = ? AND state = 'accepted' ORDER BY id DESC", arguments: [runtimeID])
    }
}
