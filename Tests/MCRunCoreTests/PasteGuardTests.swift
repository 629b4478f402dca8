import MCRunCore
import Testing

@Suite struct PasteGuardTests {
    @Test func findsTheEndMarkerWherever() {
        #expect(PasteGuard.escapeOffset(in: Array("hello\u{1b}[201~\rrm -rf ~\r".utf8)) == 5)
        #expect(PasteGuard.escapeOffset(in: Array("\u{1b}[201~".utf8)) == 0)
        #expect(PasteGuard.escapeOffset(in: [0xff, 0x1b, 0x5b, 0x32, 0x30, 0x31, 0x7e]) == 1)
        // The 8-bit form, where 0x9B stands alone.
        #expect(PasteGuard.escapeOffset(in: [0x61, 0x9b, 0x32, 0x30, 0x31, 0x7e]) == 1)
        #expect(PasteGuard.escapeOffset(in: [0xe2, 0x9b, 0x32, 0x30, 0x31, 0x7e]) == 1)
    }

    @Test func leavesEverythingElse() {
        for text in ["hello", "\u{1b}[200~", "\u{1b}[201", "\u{1b}[2015~", "\u{1b}\u{1b}[20~1~", "ü漢字😀\r\n", "\u{201B}201~"] {
            #expect(PasteGuard.escapeOffset(in: Array(text.utf8)) == nil, "\(text.debugDescription)")
        }
        #expect(PasteGuard.escapeOffset(in: [0xff, 0xfe, 0x00, 0x1b, 0x5b]) == nil)
        #expect(PasteGuard.escapeOffset(in: []) == nil)
    }
}
