import ArgumentParser
import Foundation
import Glibc
import MCRunCore

struct RuntimeSend: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Type a message into a ticket's agent: one bracketed paste, then Enter.",
        discussion: """
            The text reaches the pane through tmux's paste buffer from stdin: no shell and no tmux
            key-name parsing sees it, any size, any bytes, byte for byte (invalid UTF-8 included,
            from an argument too). A message containing the bracketed-paste end marker ESC[201~
            (or its 8-bit form) would end the paste early and be typed as keystrokes: it is
            refused whole, exit 2 (paste_escape), nothing sent. If the agent is mid-turn: exit 4
            (agent_busy) unless --queue (kept in the ledger, delivered in order when the agent is
            next idle, shown by `mcrun show`) or --interrupt (presses the interrupt key, see
            `mcrun config interrupt-key`, waits up to --wait for idle, then sends). An agent that
            reported it waits for a person (a permission prompt) answers exit 4 (agent_waiting):
            typed text would answer the prompt; --queue and --interrupt work as for a busy one.
            Exit 3 no live runtime; 5 killswitch, ticket_parked, liveness_unknown; 6 agent_dead or
            not_running (stopping).

            Every send gets an id (send_id), printed with the reply and in its events. A delivered
            message is `pasted`; an agent whose prompt hook reports what it received (Claude
            Code's UserPromptSubmit through `mcrun agent report`) turns it `confirmed`; --receipt
            waits up to D for that and still exits 0 without it (the JSON state says which).
            Once a message is in the pane, send exits 0: if the ledger cannot be written after
            the paste, it says so on stderr and in JSON ("recorded": false) and the delivery is
            recorded later, never to be sent again. A message whose sender died mid-paste is
            `uncertain` and never typed twice.

            EXAMPLES:
              mcrun send T-42 'run the tests again'
              mcrun send T-42 --queue --file prompt.md
              git diff | mcrun send T-42 -
              mcrun send T-42 --interrupt --wait 10s "stop, read this first"
              mcrun send T-42 --receipt 5s --json 'next step'
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Ticket id.")
    var ticket: String

    @Argument(help: "The message; `-` reads it from stdin.")
    var text: String?

    @Option(help: "Read the message from this file.")
    var file: String?

    @Flag(help: "If the agent is busy, queue the message for its next idle moment.")
    var queue = false

    @Flag(help: "If the agent is busy, press the interrupt key and wait for idle first.")
    var interrupt = false

    @Option(
        parsing: .unconditional, help: "With --interrupt: how long to wait for the agent to become idle, 0s to 1h (default 10s).",
        transform: Bounded.duration(0...DurationText.hour))
    var wait = DurationArgument(milliseconds: 10_000)

    @Option(
        parsing: .unconditional, help: "After the paste, wait up to this long for the agent's receipt (its prompt hook), 0s to 1h.",
        transform: Bounded.duration(0...DurationText.hour))
    var receipt: DurationArgument?

    @Flag(help: "Paste without pressing Enter.")
    var noEnter = false

    func validate() throws {
        if queue && interrupt { throw ValidationError("--queue and --interrupt cannot be combined") }
        if (text == nil) == (file == nil) { throw ValidationError("give the message as TEXT, --file F or - (stdin), exactly one") }
    }

    func execute() throws(MCRunError) -> Reply {
        let ticketID = try global.ticket(ticket)
        let body = try readBody()
        guard !body.isEmpty else { throw .badInput("empty_message", "the message is empty; nothing to send") }
        let mode: Sender.Mode = queue ? .queue : interrupt ? .interrupt(waitMilliseconds: wait.milliseconds) : .now
        let context = try global.context()
        let sender = Sender(context: context)
        let outcome = try sender.send(ticket: ticketID, body: body, enter: !noEnter, mode: mode)
        let r = outcome.runtime
        var state = outcome.state
        if outcome.delivered, let receipt, let id = outcome.sendID {
            // The message is in the pane: a ledger that cannot be read now changes nothing of that.
            state = (try? sender.waitForReceipt(sendID: id, milliseconds: receipt.milliseconds)) ?? state
        }
        if !outcome.recorded {
            Output.write(
                "mcrun: warning: message \(outcome.sendID ?? 0) was delivered to \(r.ticket) but not yet recorded (\((outcome.recordError ?? "").replacingOccurrences(of: "\n", with: " "))); it will be recorded by the next send or by serve; do not send it again\n",
                to: 2)
        }
        let id = outcome.sendID.map { "message \($0)" } ?? "the message"
        var human =
            outcome.delivered
            ? "sent \(body.count) bytes to \(r.ticket) episode \(r.episode) as \(id)\(outcome.interrupted ? " after interrupting it" : ""): \(state)"
            : "\(r.ticket) is busy; queued as \(id) for its next idle moment"
        if outcome.delivered, let receipt, state != "confirmed" { human += " (no receipt within \(receipt))" }
        return Reply(
            status: outcome.delivered ? 200 : 202,
            fields: [
                "runtime": RuntimeView.json(r), "delivered": .bool(outcome.delivered), "queued_id": JSONValue(outcome.queuedID),
                "flushed_queue_id": JSONValue(outcome.flushedID), "interrupted": .bool(outcome.interrupted), "bytes": .int(Int64(body.count)),
                "busy_source": JSONValue(outcome.assessment.source?.rawValue), "send_id": JSONValue(outcome.sendID), "state": .string(state),
                "recorded": .bool(outcome.recorded), "record_error": JSONValue(outcome.recordError),
            ],
            human: human)
    }

    func readBody() throws(MCRunError) -> [UInt8] {
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw .badInput("bad_file", "cannot read \(file.debugDescription)")
            }
            return [UInt8](data)
        }
        if text == "-" {
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if n > 0 {
                    bytes += buffer[0..<n]
                    continue
                }
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw .badInput("bad_stdin", "cannot read the message from stdin: \(String(cString: strerror(errno)))") }
                break
            }
            return bytes
        }
        return try RawArguments.original(of: text ?? "")
    }
}
