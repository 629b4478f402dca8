import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// What one `send --no-enter` puts in front of an agent that enabled bracketed paste.
func pastedWithoutEnter(_ message: [UInt8]) -> [UInt8] {
    Array("\u{1b}[200~".utf8) + message + Array("\u{1b}[201~".utf8)
}

/// `send` types exactly the bytes it was given, and nothing that could leave the paste.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct SendBytesTests {
    /// Runs `mcrun ARGS` through sh, which passes arguments as raw bytes: `$(printf ...)`
    /// makes an argument no Swift string can hold.
    static func mcrunRaw(_ s: Scratch, _ shellArgs: String) throws -> Subprocess.Result {
        try Subprocess.run(
            ["sh", "-c", "exec \"$0\" \(shellArgs)", Scratch.mcrunPath], environment: s.processEnvironment, workingDirectory: s.directory,
            timeoutMilliseconds: 30_000)
    }

    /// An agent without activity hooks whose pane is quiet: each send finds it idle.
    static func quietAgent(_ s: Scratch, ticket: String) throws -> RecordingAgent {
        #expect(try s.mcrun(["config", "busy-window", "1ms"]).status == 0)
        let agent = try RecordingAgent.start(s, ticket: ticket, hooks: false).0
        try waitUntil("the pane of \(ticket) is quiet") {
            let (_, ps) = try s.mcrunJSON(["ps"])
            return ps.at("runtimes")?.arrayValue?.first?.at("busy")?.boolValue == false
        }
        return agent
    }

    @Test func invalidUTF8ArrivesByteExactFromAnArgumentAndFromStdin() throws {
        let s = try Scratch(name: "sendraw")
        defer { s.cleanup() }
        let agent = try Self.quietAgent(s, ticket: "R1")
        let message: [UInt8] = [0x61, 0xff, 0x62, 0xc0, 0x80, 0x63, 0xed, 0xa0, 0x80, 0xfe]
        let result = try Self.mcrunRaw(s, "send R1 --no-enter \"$(printf 'a\\377b\\300\\200c\\355\\240\\200\\376')\"")
        #expect(result.status == 0, "\(result.stderrText)")
        try agent.waitForRecording(pastedWithoutEnter(message))
        #expect(agent.recorded == pastedWithoutEnter(message), "got \(agent.recorded)")

        let piped = try s.mcrun(["send", "R1", "--no-enter", "-"], stdin: message)
        #expect(piped.status == 0, "\(piped.stderrText)")
        let both = pastedWithoutEnter(message) + pastedWithoutEnter(message)
        try agent.waitForRecording(both)
        #expect(agent.recorded == both)
    }

    /// The reproduction: the end marker, a CR, a command, a CR. Nothing may be typed.
    @Test func aMessageThatWouldLeaveThePasteIsRefusedWhole() throws {
        let s = try Scratch(name: "sendinj")
        defer { s.cleanup() }
        let (agent, _) = try RecordingAgent.start(s, ticket: "J1")
        let before = try s.mcrun(["events"]).stdoutText

        let argument = try Self.mcrunRaw(s, "send J1 --json \"$(printf 'hello\\033[201~\\rrm -rf ~\\r')\"")
        #expect(argument.status == 2, "\(argument.stderrText)")
        #expect(argument.errorJSON?.at("reason")?.stringValue == "paste_escape")
        #expect(argument.stderrText.split(separator: "\n").count == 1)
        #expect(argument.stderrText.contains("ESC[201~"))
        let injection = Array("hello\u{1b}[201~\rrm -rf ~\r".utf8)
        for args in [["send", "J1", "-"], ["send", "J1", "--queue", "-"], ["send", "J1", "--interrupt", "-"]] {
            let result = try s.mcrun(args, stdin: injection)
            #expect(result.status == 2, "mcrun \(args): \(result.stderrText)")
        }
        let eightBit = try s.mcrun(["send", "J1", "-"], stdin: Array("hello".utf8) + [0x9b] + Array("201~\rrm -rf ~\r".utf8))
        #expect(eightBit.status == 2, "\(eightBit.stderrText)")
        try holdsFalse("anything is typed into the agent", for: 1) { !agent.recorded.isEmpty }
        #expect(try s.mcrun(["events"]).stdoutText == before)
        #expect(try s.mcrun(["send", "J1", "hello"]).status == 0)
        try agent.waitForRecording(pasted(Array("hello".utf8)))
    }

    /// Random bytes, with end markers and their pieces mixed in, through the real sender into
    /// a real pane: each message arrives exactly as sent, or is refused (exit 2, nothing
    /// typed) when it holds a sequence that would end the paste. Bounded in time.
    @Test func fuzzTheMessagePath() throws {
        let s = try Scratch(name: "sendfuzz")
        defer { s.cleanup() }
        let agent = try Self.quietAgent(s, ticket: "Z1")
        var seed = UInt64(Instant.now.nanoseconds) | 1
        let initialSeed = seed
        func next() -> UInt64 {
            seed ^= seed << 13
            seed ^= seed >> 7
            seed ^= seed << 17
            return seed
        }
        let pieces: [[UInt8]] = [
            [0x1b, 0x5b, 0x32, 0x30, 0x31, 0x7e], [0x1b, 0x5b, 0x32, 0x30, 0x30, 0x7e], [0x1b, 0x5b, 0x32], [0x30, 0x31, 0x7e], [0x9b], [0x0d], [0x03], [0x1b],
        ]
        var expected: [UInt8] = []
        var sent = 0
        var refused = 0
        let deadline = Instant.now + .seconds(25)
        while !deadline.hasPassed && sent + refused < 300 {
            var message: [UInt8] = []
            let length = Int(next() % 600) + 1
            while message.count < length {
                if next() % 8 == 0 {
                    message += pieces[Int(next() % UInt64(pieces.count))]
                } else {
                    message.append(UInt8(truncatingIfNeeded: next()))
                }
            }
            // Every other message as an argument (argv cannot hold NUL): python's execv passes bytes.
            let asArgument = (sent + refused) % 2 == 1 && !message.contains(0) && message != [UInt8(ascii: "-")]
            let result =
                asArgument
                ? try Subprocess.run(
                    [
                        "python3", "-c", "import os, sys; os.execv(sys.argv[1], [sys.argv[1], 'send', 'Z1', '--no-enter', '--', bytes.fromhex(sys.argv[2])])",
                        Scratch.mcrunPath, message.map { String(format: "%02x", $0) }.joined(),
                    ],
                    environment: s.processEnvironment, workingDirectory: s.directory, timeoutMilliseconds: 30_000)
                : try s.mcrun(["send", "Z1", "--no-enter", "-"], stdin: message)
            let hasMarker = message.indices.contains { message[$0...].starts(with: [0x1b, 0x5b, 0x32, 0x30, 0x31, 0x7e]) }
            let has8Bit = message.indices.contains { message[$0...].starts(with: [0x9b, 0x32, 0x30, 0x31, 0x7e]) }
            if result.status == 0 {
                #expect(!hasMarker, "seed \(initialSeed): a message with ESC[201~ was sent: \(message)")
                expected += pastedWithoutEnter(message)
                sent += 1
                try agent.waitForRecording(expected)
                guard agent.recorded == expected else {
                    Issue.record("seed \(initialSeed): message \(sent + refused) arrived changed (argument: \(asArgument)): sent \(message)")
                    return
                }
            } else {
                #expect(
                    result.status == 2 && (hasMarker || has8Bit),
                    "seed \(initialSeed): exit \(result.status) for \(message) (argument: \(asArgument)): \(result.stderrText)")
                refused += 1
            }
        }
        try holdsFalse("something arrives after the last message", for: 0.5) { agent.recorded.count > expected.count }
        #expect(agent.recorded == expected)
        #expect(sent > 10 && refused > 0, "sent \(sent), refused \(refused)")
    }
}
