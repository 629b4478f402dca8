/// What keeps a message inside its bracketed paste. `send` wraps the message in
/// `ESC[200~ ... ESC[201~`, and an agent that asked for bracketed paste takes everything in
/// between as pasted text, never as keystrokes. A message that itself contains the end
/// marker would end the paste early: the rest would be typed, and a CR in it would submit
/// it. tmux passes the marker through unchanged, and there is no escaping it inside a
/// paste, so such a message is refused whole rather than altered.
public enum PasteGuard {
    static let endMarker: [UInt8] = [0x1B, 0x5B, 0x32, 0x30, 0x31, 0x7E]  // ESC [ 2 0 1 ~
    /// The 8-bit form: C1 CSI (0x9B) then `201~`. Refused where 0x9B is not part of a UTF-8
    /// character (U+201B is E2 80 9B).
    static let c1EndMarker: [UInt8] = [0x9B, 0x32, 0x30, 0x31, 0x7E]

    /// The byte offset of the first sequence in `body` that would end a bracketed paste,
    /// or nil when the whole message stays inside it.
    public static func escapeOffset(in body: [UInt8]) -> Int? {
        var offset = 0
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = body.makeIterator()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar):
                if scalar.first == 0x1B, body[offset...].starts(with: endMarker) { return offset }
                offset += scalar.count
            case .error(let length):
                // Invalid UTF-8: none of these bytes is part of a character, and a 0x9B among
                // them may be read as C1 CSI.
                for at in offset..<(offset + length) where body[at...].starts(with: c1EndMarker) { return at }
                offset += length
            case .emptyInput:
                return nil
            }
        }
    }

    /// Refuses (exit 2, `paste_escape`) a message that would leave its paste.
    public static func check(_ body: [UInt8]) throws(MCRunError) {
        guard let at = escapeOffset(in: body) else { return }
        throw .badInput(
            "paste_escape",
            "the message contains the bracketed-paste end marker (ESC[201~) at byte \(at): the agent would take what follows as typed keystrokes; nothing was sent"
        )
    }
}
