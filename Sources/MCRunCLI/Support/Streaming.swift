import ArgumentParser
import Glibc
import MCRunCore
import Synchronization

/// Set by SIGINT or SIGTERM while a command streams (`logs -f`, `events --follow`).
let streamStopRequested = Atomic<Bool>(false)

/// A command that writes its own output as it goes (JSON lines, a followed log) rather
/// than one `Reply`; failures still follow the CLI contract.
protocol MCRunStreamingCommand: ParsableCommand {
    var global: GlobalOptions { get }
    func execute() throws(MCRunError)
}

extension MCRunStreamingCommand {
    func run() throws {
        do {
            try execute()
        } catch {
            Output.fail(error, json: global.json)
            throw ExitCode(error.code.exitCode)
        }
    }
}

/// What streaming commands share: a clean exit on SIGINT, SIGTERM or a closed pipe, and
/// bounded pauses between polls.
enum Streaming {
    static func prepare() {
        signal(SIGPIPE, SIG_IGN)
        signal(SIGINT) { _ in streamStopRequested.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in streamStopRequested.store(true, ordering: .relaxed) }
    }

    static var stopRequested: Bool { streamStopRequested.load(ordering: .relaxed) }

    /// Sleeps in short steps; false once a stop was requested.
    static func pause(milliseconds: Int) -> Bool {
        var left = milliseconds
        while left > 0 {
            if stopRequested { return false }
            let step = min(left, 50)
            usleep(useconds_t(step * 1000))
            left -= step
        }
        return !stopRequested
    }

    /// Writes all of `bytes` to stdout; false when the reader is gone (EPIPE) or on error.
    static func write(_ bytes: some Collection<UInt8>) -> Bool {
        var rest = Array(bytes)[...]
        while !rest.isEmpty {
            let n = rest.withUnsafeBytes { Glibc.write(1, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            rest = rest.dropFirst(n)
        }
        return true
    }

    static func writeLine(_ value: JSONValue) -> Bool {
        write(Array((Output.stamped(value).jsonText + "\n").utf8))
    }
}
