/// How many terminal columns a Unicode scalar takes, the way terminals (and the
/// programs drawing on them) count: cursor movements are in columns, so a
/// filter that counted scalars instead would land redraws in the wrong place.
enum CharacterWidth {
    /// 0 for marks and format characters that attach to the previous cell,
    /// 2 for East Asian wide and fullwidth characters and emoji, 1 otherwise.
    static func of(_ value: UInt32) -> Int {
        if value < 0x300 { return 1 }
        if value >= 0x1160 && value <= 0x11FF { return 0 }  // Hangul medial vowels and final consonants
        if isWide(value) { return 2 }
        guard let scalar = Unicode.Scalar(value) else { return 1 }
        let properties = scalar.properties
        switch properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format:
            return 0
        default:
            return properties.isEmojiPresentation ? 2 : 1
        }
    }

    // East Asian Width W and F, condensed the way wcwidth implementations do.
    private static let wideRanges: [ClosedRange<UInt32>] = [
        0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x2E80...0x303E,
        0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
        0xA960...0xA97F, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19,
        0xFE30...0xFE6F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x16FE0...0x18CFF,
        0x1B000...0x1B2FF, 0x1F200...0x1F2FF, 0x20000...0x2FFFD, 0x30000...0x3FFFD,
    ]

    private static func isWide(_ value: UInt32) -> Bool {
        if value < 0x1100 { return false }
        for range in wideRanges where range.contains(value) { return true }
        return false
    }
}
