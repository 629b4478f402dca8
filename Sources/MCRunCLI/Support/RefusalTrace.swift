import MCRunCore

/// Leaves a trace of a refused command in the ledger (a `refused` event, coalesced per
/// ticket and reason), from the one place every command's failure passes through.
enum RefusalTrace {
    static let recordedCodes: Set<MCRunError.Code> = [.busy, .refused, .declined]

    /// Best effort and silent: the command's exit code and output are already decided, and a
    /// ledger that cannot be written (perhaps the very cause of the refusal) is not a second
    /// failure.
    static func record(_ error: MCRunError, subject: RefusalSubject?, global: GlobalOptions) {
        guard recordedCodes.contains(error.code), let subject, (try? TicketID(validating: subject.ticket)) != nil else { return }
        guard let context = try? global.context() else { return }
        _ = try? context.ledger.recordRefusal(
            ticket: subject.ticket, action: subject.action, reason: error.reason, code: Int(error.code.exitCode),
            runtimeID: error.runtime?.id, window: Ledger.refusalWindow(environment: context.environment), actor: context.actor)
    }
}

// The dispatcher-facing commands whose refusals are recorded.

extension RuntimeStart {
    var refusalSubject: RefusalSubject? { RefusalSubject(ticket: ticket, action: "start") }
}

extension RuntimeAdopt {
    var refusalSubject: RefusalSubject? { RefusalSubject(ticket: ticket, action: "adopt") }
}

extension RuntimeSend {
    var refusalSubject: RefusalSubject? { RefusalSubject(ticket: ticket, action: "send") }
}
