import Foundation

/// A delivery receipt: the agent's prompt hook (Claude Code `UserPromptSubmit`, whose input
/// carries the submitted `prompt`) says which text it received as a prompt, and the message
/// of the runtime with the same digest is marked `confirmed`. Without such a hook a delivery
/// stays `pasted`: in the pane, never confirmed.
public enum DeliveryReceipt {
    /// The text as a prompt hook reports it, from the bytes that were pasted. An agent's
    /// input box does not hand on what was pasted byte for byte: Claude Code submits the
    /// text with line ends as LF, without the surrounding blank lines and spaces, and
    /// expands a long paste it showed as `[Pasted text #1]` before its hook sees it. So:
    /// invalid UTF-8 read as U+FFFD, CRLF and CR as LF, spaces and tabs at the end of each
    /// line dropped, whitespace at both ends dropped, Unicode composed (NFC).
    public static func normalised(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var line: [Unicode.Scalar] = []
        var first = true
        var afterCR = false
        func endLine() {
            while let last = line.last, last == " " || last == "\t" { line.removeLast() }
            if !first { out.append("\n") }
            first = false
            out.append(contentsOf: line)
            line.removeAll(keepingCapacity: true)
        }
        for scalar in text.unicodeScalars {
            defer { afterCR = scalar == "\r" }
            switch scalar {
            case "\n" where afterCR: continue
            case "\r", "\n": endLine()
            default: line.append(scalar)
            }
        }
        endLine()
        return String(out).trimmingCharacters(in: .whitespacesAndNewlines).precomposedStringWithCanonicalMapping
    }

    /// The digest a message is matched by: 64-bit FNV-1a of the normalised text's UTF-8, in
    /// hex. It tells one runtime's outstanding messages apart; the hook's credentials, not
    /// the digest, say who may confirm.
    public static func digest(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in normalised(text).utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    public static func digest(_ bytes: [UInt8]) -> String {
        digest(String(decoding: bytes, as: UTF8.self))
    }

    /// What a receipt matched: the message, and the state it was in.
    public struct Confirmation: Sendable, Equatable {
        public var sendID: Int64
        public var previousState: String
    }

    /// Records the receipt of `prompt` from the episode the credentials name: the oldest of
    /// its messages in the pane or on the way (`delivering`, `pasted`, `uncertain`) with the
    /// same digest becomes `confirmed`, with a `send_confirmed` event. A prompt that matches
    /// none (a person typed it) changes nothing; nor do credentials that are not the live
    /// episode's (the activity report beside it records that).
    public static func record(prompt: String, credentials: EpisodeCredentials, ledger: Ledger, actor: String) throws(MCRunError) -> Confirmation? {
        let digest = digest(prompt)
        // Most prompts match nothing (a person typed them): one read, no write.
        let candidate = try ledger.read { db in
            try Ledger.hasUnconfirmedMessage(db, ticket: credentials.ticket.rawValue, episode: credentials.episode, digest: digest)
        }
        guard candidate else { return nil }
        return try ledger.write { db -> Confirmation? in
            guard case .success(let runtime) = try credentials.verify(db) else { return nil }
            let now = WallClock.now()
            guard let (id, from) = try Ledger.confirmMessage(db, runtimeID: runtime.id!, digest: digest, now: now) else { return nil }
            try Ledger.appendEvent(
                db, kind: "send_confirmed", runtime: runtime, actor: actor, reason: from == "uncertain" ? "was_uncertain" : nil,
                data: ["send_id": .int(id), "from": .string(from), "digest": .string(digest)], now: now)
            return Confirmation(sendID: id, previousState: from)
        }
    }
}
