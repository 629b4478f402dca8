import ArgumentParser
import Foundation
import Glibc
import MCRunCore

/// What a command answers: `--json` prints it as one object with `ok` and `code`; otherwise
/// `human` goes to stdout.
struct Reply {
    var status: Int = 200
    var fields: [String: JSONValue] = [:]
    var human: String = ""
    /// The command wrote its output as it went (`ps --watch`): nothing more is printed.
    var printed = false
}

/// Every command runs through here, so the CLI contract (exit codes, one JSON object,
/// one-line errors on stderr) holds the same for all of them.
protocol MCRunCommand: ParsableCommand {
    var global: GlobalOptions { get }
    /// The ticket this command acts on and its name, for a command a dispatcher is refused
    /// (busy, a policy, a declined adopt); nil for every other command.
    var refusalSubject: RefusalSubject? { get }
    func execute() throws(MCRunError) -> Reply
}

struct RefusalSubject {
    var ticket: String
    var action: String
}

extension MCRunCommand {
    var refusalSubject: RefusalSubject? { nil }
}

extension MCRunCommand {
    mutating func run() throws {
        let json = global.json
        do {
            let reply = try execute()
            if reply.printed {
            } else if json {
                var object = reply.fields
                object["ok"] = true
                object["code"] = .int(Int64(reply.status))
                Output.printJSON(.object(object))
            } else if !reply.human.isEmpty {
                Output.write(reply.human.hasSuffix("\n") ? reply.human : reply.human + "\n", to: 1)
            }
        } catch {
            Output.fail(error, json: json)
            RefusalTrace.record(error, subject: refusalSubject, global: global)
            throw ExitCode(error.code.exitCode)
        }
    }
}

enum Output {
    /// The version of every JSON object the CLI prints (docs/dispatcher.md): raised when a
    /// field changes meaning or goes away, not when one is added.
    static let schemaVersion = 2

    /// `value` with `schema_version`, when it is an object.
    static func stamped(_ value: JSONValue) -> JSONValue {
        guard case .object(var o) = value else { return value }
        o["schema_version"] = .int(Int64(schemaVersion))
        return .object(o)
    }

    static func printJSON(_ value: JSONValue) {
        write(stamped(value).jsonText + "\n", to: 1)
    }

    static func write(_ text: String, to fd: Int32) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            bytes = bytes.dropFirst(n)
        }
    }

    /// The one-line error on stderr, and with `--json` the error object on stdout.
    static func fail(_ error: MCRunError, json: Bool) {
        write("mcrun: \(error.description.replacingOccurrences(of: "\n", with: " "))\n", to: 2)
        guard json else { return }
        var object: [String: JSONValue] = [
            "ok": false, "code": .int(Int64(error.code.httpStatus)), "reason": .string(error.reason),
            "message": .string(error.message), "exit": .int(Int64(error.code.exitCode)),
        ]
        if let runtime = error.runtime { object["runtime"] = RuntimeView.json(runtime) }
        if let cause = error.cause { object["cause"] = .string(cause) }
        if let detail = error.detail { object["detail"] = detail }
        printJSON(.object(object))
    }
}
