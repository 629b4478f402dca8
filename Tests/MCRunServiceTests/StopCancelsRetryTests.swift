import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// "Stop means stopped": a stop or park that lands while a relaunch is owed for an
/// earlier death cancels it, in the same transaction.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct StopCancelsRetryTests {
    static let slowRetry = ["--retry-delay", "2s", "--reconcile-interval", "1s"]

    @Test(arguments: ["stop", "park"])
    func aStopDuringTheRetryDelayCancelsTheRelaunch(_ command: String) throws {
        let s = try Scratch(name: "cancel")
        defer { s.cleanup() }
        let serve = try ServeProcess(s, arguments: Self.slowRetry)
        try serve.waitUntilReady()
        let pid = try s.startAgent("T1", ["sleep", "1000"])
        kill(pid, SIGKILL)
        try waitUntil("the death recorded with a relaunch owed") {
            try s.runtimes("T1").first?.state == .dead && s.context().ledger.pendingRetries().count == 1
        }
        let (result, json) = try s.mcrunJSON([command, "T1", "--grace", "1s"])
        #expect(result.status == 0, "\(result.stderrText)")
        if command == "stop" { #expect(json["retry_cancelled"]?.boolValue == true) }
        try holdsFalse("a relaunch after the \(command)", for: 3.5) { try s.runtimes("T1").count > 1 }
        #expect(try s.events("retry_cancelled", ticket: "T1").count == 1)
        #expect(try s.events("retry", ticket: "T1").isEmpty)
    }
}
