import Glibc

/// The conversation between a launcher (`mcrun start`, or `serve` relaunching) and the shim
/// that tmux runs as a new pane's only process, over a unix socket the launcher listens on:
///
/// 1. launcher → shim: `plan` (the agent's directory, argv and environment: the environment
///    never appears in any argv);
/// 2. shim → launcher: `ready` once it has entered the directory and found the program, or
///    `failed` with a reason;
/// 3. launcher → shim: `go` once the shim's identity (its PID and start time, which the exec
///    keeps, read by the launcher from the peer's kernel credentials) is in the ledger, or
///    `refused` when the launch was taken over (a stop or park);
/// 4. the shim execs the agent. Its end of the socket is close-on-exec, so the launcher reads
///    end-of-file when the exec succeeded, or `execFailed` when it did not.
///
/// Pure Swift over Glibc, without Foundation: the shim links only this module and starts in
/// about a millisecond.
public enum LaunchHandshake {
    public enum Message: Equatable, Sendable {
        case plan(cwd: String, argv: [String], environment: [String])
        case ready
        case failed(reason: String, message: String)
        case go
        case refused(message: String)
        case execFailed(reason: String)
    }

    /// A frame larger than this is refused: argv and environment are bounded by the kernel's
    /// ARG_MAX-like limits far below it.
    static let maximumFrame = 16 << 20

    /// Sends one frame: a 4-byte little-endian length, then the tag and NUL-terminated fields.
    public static func send(_ message: Message, on fd: Int32) -> Bool {
        var payload: [UInt8] = []
        func field(_ s: String) {
            payload.append(contentsOf: s.utf8)
            payload.append(0)
        }
        switch message {
        case .plan(let cwd, let argv, let environment):
            payload.append(UInt8(ascii: "P"))
            field(cwd)
            field(String(argv.count))
            argv.forEach(field)
            environment.forEach(field)
        case .ready:
            payload.append(UInt8(ascii: "R"))
        case .failed(let reason, let message):
            payload.append(UInt8(ascii: "F"))
            field(reason)
            field(message)
        case .go:
            payload.append(UInt8(ascii: "G"))
        case .refused(let message):
            payload.append(UInt8(ascii: "N"))
            field(message)
        case .execFailed(let reason):
            payload.append(UInt8(ascii: "X"))
            field(reason)
        }
        let count = UInt32(payload.count)
        let frame = [UInt8(count & 0xff), UInt8((count >> 8) & 0xff), UInt8((count >> 16) & 0xff), UInt8(count >> 24)] + payload
        return writeAll(fd, frame)
    }

    /// Reads one frame; nil at end-of-file, on an error or timeout of the socket, or on a
    /// frame that does not parse.
    public static func receive(on fd: Int32) -> Message? {
        guard let header = readExactly(fd, 4) else { return nil }
        let count = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
        guard count >= 1, count <= maximumFrame, let payload = readExactly(fd, count) else { return nil }
        var fields: [String] = []
        var start = 1
        for i in 1..<payload.count where payload[i] == 0 {
            fields.append(String(decoding: payload[start..<i], as: UTF8.self))
            start = i + 1
        }
        guard start == payload.count else { return nil }
        switch payload[0] {
        case UInt8(ascii: "P"):
            guard fields.count >= 2, let argc = Int(fields[1]), argc >= 1, fields.count >= 2 + argc else { return nil }
            return .plan(cwd: fields[0], argv: Array(fields[2..<(2 + argc)]), environment: Array(fields[(2 + argc)...]))
        case UInt8(ascii: "R") where fields.isEmpty: return .ready
        case UInt8(ascii: "F") where fields.count == 2: return .failed(reason: fields[0], message: fields[1])
        case UInt8(ascii: "G") where fields.isEmpty: return .go
        case UInt8(ascii: "N") where fields.count == 1: return .refused(message: fields[0])
        case UInt8(ascii: "X") where fields.count == 1: return .execFailed(reason: fields[0])
        default: return nil
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    static func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + offset, count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            offset += n
        }
        return buffer
    }
}
