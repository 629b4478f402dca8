import PaneLogFilter
import Testing

@Suite("Escape sequences and controls are removed")
struct RemovalTests {
    @Test func oscTitlesEndedByBelOrStringTerminator() {
        #expect(clean("a\u{1B}]0;agent: ticket-42\u{07}b\u{1B}]2;other\u{1B}\\c\r\n") == "abc\n")
    }

    @Test func oscHyperlinkKeepsOnlyItsText() {
        #expect(clean("see \u{1B}]8;;https://example.com\u{1B}\\the docs\u{1B}]8;;\u{1B}\\.\r\n") == "see the docs.\n")
    }

    @Test func unterminatedOscEndsAtTheNextSequence() {
        // A lost terminator must not swallow the rest of the transcript.
        #expect(clean("\u{1B}]0;title never ends\u{1B}[31mred\u{1B}[0m\r\n") == "red\n")
    }

    @Test func sgrColoursIncludingTrueColourAndColonForms() {
        let input = "\u{1B}[1;31mbold red\u{1B}[0m \u{1B}[38;2;255;128;0morange\u{1B}[38:5:208m!\u{1B}[m\r\n"
        #expect(clean(input) == "bold red orange!\n")
    }

    @Test func privateModesAndQueries() {
        let input = "\u{1B}[?25l\u{1B}[?2004h\u{1B}[>4;1m\u{1B}[6n\u{1B}[c\u{1B}[2 q\u{1B}[!pvisible\u{1B}[?25h\r\n"
        #expect(clean(input) == "visible\n")
    }

    @Test func dcsSosPmAndApcStrings() {
        let input = "a\u{1B}P+q544e\u{1B}\\b\u{1B}Xsos\u{1B}\\c\u{1B}^pm\u{1B}\\d\u{1B}_Gi=1;AAAA\u{1B}\\e\r\n"
        #expect(clean(input) == "abcde\n")
    }

    @Test func tmuxPassthroughWithDoubledEscapes() {
        let input = "a\u{1B}Ptmux;\u{1B}\u{1B}]52;c;aGVsbG8=\u{07}\u{1B}\\b\r\n"
        #expect(clean(input) == "ab\n")
    }

    @Test func twoByteEscapesAndCharsetSelects() {
        #expect(clean("\u{1B}=\u{1B}>\u{1B}(B\u{1B})0\u{1B}7a\u{1B}8b\u{1B}(Bc\r\n") == "bc\n")
    }

    @Test func decLineDrawingBecomesBoxCharacters() {
        #expect(clean("\u{1B}(0lqqk\u{1B}(B ok\r\n\u{0E}\u{1B})0x\u{0F}x\r\n") == "┌──┐ ok\n│x\n")
    }

    @Test func c0ControlsOtherThanNewlineAndTabAreDropped() {
        #expect(clean("a\u{07}b\u{00}c\u{01}d\u{1F}e\u{7F}f\tg\r\n") == "abcdef\tg\n")
    }

    @Test func c1ControlsWrittenAsUTF8() {
        // U+009B is CSI, U+009D OSC, U+009C ST, U+0085 NEL; none may show.
        #expect(clean("\u{9B}1mbold\u{9B}0m\u{9D}0;title\u{9C}\u{85}next\r\n") == "bold\nnext\n")
    }

    @Test func cancelAbortsASequence() {
        #expect(clean("a\u{1B}[12\u{18}3b\r\n") == "a3b\n")
    }
}

@Suite("UTF-8")
struct UTF8Tests {
    @Test func multiByteCharactersSplitAtEveryPoint() {
        let bytes = Array("café 日本 🎉 ok\r\n".utf8)
        let expected = Array("café 日本 🎉 ok\n".utf8)
        for cut in 1..<bytes.count {
            var filter = PaneLogFilter()
            bytes[..<cut].withUnsafeBytes { filter.feed($0) }
            bytes[cut...].withUnsafeBytes { filter.feed($0) }
            filter.finish()
            #expect(filter.takeOutput() == expected, "cut after byte \(cut)")
        }
    }

    @Test func invalidBytesBecomeReplacementCharacters() {
        let bytes: [UInt8] = [0x61, 0xFF, 0x62, 0xE6, 0x97, 0x63, 0xC0, 0xAF, 0x0D, 0x0A]
        let output = String(decoding: PaneLogFilter.transcript(of: bytes), as: UTF8.self)
        #expect(output == "a\u{FFFD}b\u{FFFD}c\u{FFFD}\u{FFFD}\n")
    }

    @Test func truncatedSequenceAtEndOfStream() {
        let output = PaneLogFilter.transcript(of: Array("ok ".utf8) + [0xE6, 0x97])
        #expect(String(decoding: output, as: UTF8.self) == "ok \u{FFFD}\n")
    }

    @Test func escapeInTheMiddleOfACharacter() {
        let bytes: [UInt8] = [0x61, 0xE6] + Array("\u{1B}[31mb\r\n".utf8)
        #expect(String(decoding: PaneLogFilter.transcript(of: bytes), as: UTF8.self) == "a\u{FFFD}b\n")
    }

    @Test func wideCharactersTakeTwoColumns() {
        // 語 is at columns 4-5; two columns back from the end lands on it.
        #expect(clean("日本語\u{1B}[2Dx\r\n") == "日本x\n")
        // Overwriting half of a wide character blanks the other half.
        #expect(clean("日本\rx\r\n") == "x 本\n")
    }

    @Test func combiningMarksStayOnTheirCharacter() {
        #expect(clean("cafe\u{301}!\r\n") == "cafe\u{301}!\n")
        #expect(clean("e\u{301}\u{1B}[Dx\r\n") == "x\n")
        #expect(clean("👍🏽 ok\r\n") == "👍🏽 ok\n")
    }

    @Test func markedCharacterRedrawnManyTimesStaysWhole() {
        // Each redraw of ⚠️ (U+26A0 U+FE0F) makes a new cluster; old ones must be reclaimed.
        var input = ""
        for index in 0..<6_000 { input += "\r⚠\u{FE0F} retry \(index % 10)" }
        #expect(clean(input + "\r\n") == "⚠\u{FE0F} retry 9\n")
    }
}

@Suite("The line editor")
struct LineEditorTests {
    @Test func backspaceErasesThePreviousCharacter() {
        #expect(clean("abc\u{08}\r\n") == "ab\n")
        #expect(clean("abc\u{08}\u{08}X\r\n") == "aX\n")
        #expect(clean("\u{08}\u{08}a\r\n") == "a\n")
        #expect(clean("日本\u{08}\r\n") == "日\n")
    }

    @Test func backspaceInsideALineMovesOverIt() {
        #expect(clean("abcdef\r\u{1B}[4C\u{08}X\r\n") == "abcXef\n")
    }

    @Test func overstrikeIsNotDoubled() {
        // nroff bold and underline: each letter once.
        #expect(clean("W\u{08}Wo\u{08}ork\u{08}k\r\n") == "Work\n")
    }

    @Test func eraseInLineVariants() {
        #expect(clean("hello world\r\u{1B}[5C\u{1B}[K\r\n") == "hello\n")
        #expect(clean("hello world\r\u{1B}[5C\u{1B}[0K!\r\n") == "hello!\n")
        #expect(clean("hello world\u{1B}[6D\u{1B}[1K\r\n") == "      world\n")
        #expect(clean("hello world\u{1B}[2Knew\r\n") == "           new\n")
        #expect(clean("hello world\r\u{1B}[2Knew\r\n") == "new\n")
    }

    @Test func carriageReturnSpinnerLeavesItsFinalFrame() {
        var input = ""
        let frames = Array("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
        for index in 0..<500 { input += "\r\(frames[index % frames.count]) Thinking… (\(index / 10)s)" }
        #expect(clean(input + "\r\n") == "⠏ Thinking… (49s)\n")
        #expect(clean("before\r\n" + input + "\r\u{1B}[2Kafter\r\n") == "before\nafter\n")
    }

    @Test func shorterRedrawKeepsWhatItDidNotCover() {
        // A terminal would still show the tail; so does the transcript.
        #expect(clean("100%\r50\r\n") == "500%\n")
    }

    @Test func incidentEightShimmerIsReadOnce() {
        var byCursorBack = "\r"
        var byColumn = "\r"
        for frame in 0..<30 {
            for (index, letter) in "Working".enumerated() {
                byCursorBack += "\u{1B}[38;5;\(240 + (index + frame) % 8)m\(letter)\u{1B}[D\u{1B}[1m\(letter)\u{1B}[22m"
                byColumn += "\u{1B}[\(index + 1)G\(letter)\u{1B}[\(index + 1)G\(letter)"
            }
            byCursorBack += "\r"
        }
        #expect(clean(byCursorBack + "\r\n") == "Working\n")
        #expect(clean(byColumn + "\r\n") == "Working\n")
    }

    @Test func statusBlockRedrawnWithCursorUpAppearsOnceInItsFinalForm() {
        var input = "start\r\n"
        for tick in 0...40 {
            if tick > 0 { input += "\u{1B}[3A" }
            if tick == 20 { input += "\u{1B}[Jreal output\r\n" }
            input += "\u{1B}[2Ktests: \(tick)\r\n\u{1B}[2Kpassed: \(tick)\r\n\u{1B}[2Kelapsed: \(tick)s\r\n"
        }
        #expect(clean(input + "end\r\n") == "start\nreal output\ntests: 40\npassed: 40\nelapsed: 40s\nend\n")
    }

    @Test func reverseIndexAndPreviousLineMoveUp() {
        #expect(clean("one\r\ntwo\r\n\u{1B}M\u{1B}Mun\r\n") == "une\ntwo\n")
        #expect(clean("one\r\ntwo\r\n\u{1B}[2FONE\r\n") == "ONE\ntwo\n")
    }

    @Test func cursorDownBelowTheLastLineOpensNewLines() {
        #expect(clean("a\u{1B}[2Bb\r\n") == "a\n\n b\n")
    }

    @Test func eraseBelowDropsPendingLines() {
        #expect(clean("keep\r\nspin 1\r\nspin 2\r\n\u{1B}[2A\u{1B}[Jdone\r\n") == "keep\ndone\n")
    }

    @Test func eraseAboveBlanksLinesBeforeTheCursor() {
        #expect(clean("one\r\ntwo\r\nthree\u{1B}[1J\r\n") == "\n\n\n")
    }

    @Test func clearScreenKeepsWhatWasShown() {
        #expect(clean("before\r\n\u{1B}[2J\u{1B}[Hafter\r\n") == "before\nafter\n")
        #expect(clean("before\r\n\u{1B}cafter\r\n") == "before\nafter\n")
    }

    @Test func absolutePositioningRepaintsInPlace() {
        var input = "intro\r\n"
        for frame in 1...20 {
            input += "\u{1B}[5;1Hframe \(frame) top\u{1B}[K\u{1B}[6;1Hframe \(frame) bottom\u{1B}[K"
        }
        // Rows 2 to 4 were blank on the screen, between the output and the frame.
        #expect(clean(input + "\r\n") == "intro\n\n\n\nframe 20 top\nframe 20 bottom\n")
    }

    @Test func absolutePositioningDoesNotOverwriteEarlierOutput() {
        // Rows counted from the top of a new pane: row 3 is below the prompt.
        #expect(clean("prompt> \u{1B}[3;1Hpainted\r\n") == "prompt>\n\npainted\n")
        // Once more lines were written than that row, the screen may have
        // scrolled: the row lands on the next empty line instead.
        #expect(clean("one\r\ntwo\r\nthree\r\nfour> \u{1B}[2;1Hpainted\r\n") == "one\ntwo\nthree\nfour>\npainted\n")
    }

    @Test func saveAndRestoreCursor() {
        #expect(clean("ab\u{1B}7cd\r\nxy\u{1B}8Z\r\n") == "abZd\nxy\n")
        #expect(clean("ab\u{1B}[scd\u{1B}[uZ\r\n") == "abZd\n")
    }

    @Test func insertDeleteAndEraseCharacters() {
        #expect(clean("abcdef\r\u{1B}[2C\u{1B}[2P\r\n") == "abef\n")
        #expect(clean("abcdef\r\u{1B}[2C\u{1B}[2@XY\r\n") == "abXYcdef\n")
        #expect(clean("abcdef\r\u{1B}[2C\u{1B}[2X\r\n") == "ab  ef\n")
    }

    @Test func insertAndDeleteLines() {
        #expect(clean("one\r\ntwo\r\n\u{1B}[1A\u{1B}[Linserted\r\n") == "one\ninserted\ntwo\n")
        #expect(clean("one\r\ntwo\r\nthree\r\n\u{1B}[2A\u{1B}[M") == "one\nthree\n")
    }

    @Test func tabsAreKeptAndMoveOverExistingText() {
        #expect(clean("a\tb\r\n") == "a\tb\n")
        #expect(clean("abcdefghij\r\tX\r\n") == "abcdefghXj\n")
        #expect(clean("abc\tX\r\u{1B}[4CY\r\n") == "abc Y   X\n")
    }

    @Test func trailingBlanksAreTrimmed() {
        #expect(clean("text   \t \r\n   \r\n") == "text\n\n")
    }

    @Test func bareLineFeedStartsAtColumnZero() {
        #expect(clean("one\ntwo\n") == "one\ntwo\n")
    }

    @Test func repeatedRealLinesAreKept() {
        #expect(clean("ok\r\nok\r\nok\r\n") == "ok\nok\nok\n")
    }
}

@Suite("Alternate screen")
/// Each input starts in a new 30-row pane with the rows pinned (row 30
/// addressed, then home) and lines 1 to 4 on rows 1 to 4; what tmux would
/// keep is in the comment.
struct ScrollRegionTests {
    static let pane = "\u{1B}[30;1H\u{1B}[H1\r\n2\r\n3\r\n4"

    @Test func lineFeedAtTheRegionBottomSendsItsTopLineToHistory() {
        // tmux: history 2; screen 1, 3, x, 4.
        #expect(clean(Self.pane + "\u{1B}[2;3r\u{1B}[3;1H\r\nx\u{1B}[r\u{1B}[5;1H") == "2\n1\n3\nx\n4\n")
    }

    @Test func scrollUpInARegionAtTheTop() {
        // tmux: history 1, 2; screen 3, -, -, 4.
        #expect(clean(Self.pane + "\u{1B}[1;3r\u{1B}[2S\u{1B}[r\u{1B}[5;1H") == "1\n2\n3\n\n\n4\n")
    }

    @Test func reverseIndexAtTheRegionTopOpensALine() {
        // tmux: screen 1, new, 2, 3; 4 fell off the region, the transcript keeps it.
        #expect(clean(Self.pane + "\u{1B}[2;4r\u{1B}[2;1H\u{1B}Mnew\u{1B}[r\u{1B}[5;1H") == "1\n2\n3\n4\nnew\n")
        // Elsewhere in the region it only moves up.
        #expect(clean(Self.pane + "\u{1B}[2;4r\u{1B}[4;1H\u{1B}Mthree\u{1B}[r\u{1B}[5;1H") == "1\n2\nthree\n4\n")
    }

    @Test func scrollDownInARegion() {
        // tmux: screen -, -, 1, 4; 2 and 3 fell off, kept in the order shown.
        #expect(clean(Self.pane + "\u{1B}[1;3r\u{1B}[2T\u{1B}[r\u{1B}[5;1H") == "1\n2\n3\n\n\n4\n")
    }

    @Test func insertAndDeleteLinesStayInsideTheRegion() {
        // tmux: screen 1, new, 2, 4 (3 pushed out of the region, kept).
        #expect(clean(Self.pane + "\u{1B}[2;3r\u{1B}[2;1H\u{1B}[Lnew\u{1B}[r\u{1B}[5;1H") == "1\n2\n3\nnew\n4\n")
        // tmux: screen 1, 3, -, 4.
        #expect(clean(Self.pane + "\u{1B}[2;3r\u{1B}[2;1H\u{1B}[M\u{1B}[r\u{1B}[5;1H") == "1\n3\n\n4\n")
        // Outside the region IL does nothing.
        #expect(clean(Self.pane + "\u{1B}[1;3r\u{1B}[5;1H\u{1B}[Lnot\u{1B}[r\u{1B}[6;1H") == "1\n2\n3\n4\nnot\n")
    }

    @Test func scrollingUpPastTheCursorLine() {
        // Found by the fuzzer: the cursor's line scrolled out while more
        // lines were still to go, and the next one trapped on its index.
        #expect(clean("\u{1B}[3f\u{1B}[2S") == "\n\n\n\n")
        // tmux: history a, b; screen c, -, " x" (the cursor stays on row 3).
        #expect(clean("a\r\nb\u{1B}[3fc\u{1B}[2Sx\r\n") == "a\nb\nc\n\n x\n")
    }

    @Test func insertingLinesIntoAHugeRegionStaysWithinTheWindow() {
        // A region far taller than the window: the lines pushed in are
        // bounded by the window, as a terminal bounds them by its screen.
        let input = "\u{1B}[8;1H\u{1B}[H1\r\n2\r\n3\r\n4\u{1B}[1;60000r\u{1B}[2;1H\u{1B}[60000L\u{1B}[r"
        let output = clean(input, options: .init(pendingLines: 16))
        #expect(Set(output.split(separator: "\n")) == ["1", "2", "3", "4"])
        #expect(output.utf8.count < 100, "\(output.utf8.count) bytes: the window grew past its 16 lines")
    }

    @Test func codexInsertsHistoryAboveItsViewport() {
        // The incident: 14 lines inserted through the region above a status
        // line repainted in place, each batch followed by the repaint.
        var input = Self.pane + "\u{1B}[30;1H• Working (0s)"
        for number in 1...14 {
            input += "\u{1B}[1;29r\u{1B}[29;1H\r\n\u{1B}[Kline \(number)\u{1B}[r\u{1B}[30;1H• Working (\(number)s)\u{1B}[K"
        }
        let lines = clean(input).split(separator: "\n")
        #expect(lines == ["1", "2", "3", "4"] + (1...14).map { "line \($0)" } + ["• Working (14s)"])
    }

    @Test func withoutPinnedRowsScrollingNeverWritesOver() {
        // More lines than any row named: the rows are not known. SU moves
        // down under the text, SD opens lines at the cursor.
        let lines = "a\r\nb\r\nc\r\nd\r\ne\r\n\u{1B}[2A"
        #expect(clean(lines + "\u{1B}[2Sx\r\n") == "a\nb\nc\nd\ne\nx\n")
        #expect(clean(lines + "\u{1B}[1Tx\r\n") == "a\nb\nc\nx\nd\ne\n")
    }

    @Test func resetsForgetTheRegion() {
        for reset in ["\u{1B}[r", "\u{1B}[!p"] {
            // After the reset a line feed on row 3 just moves down, to row 4.
            #expect(clean(Self.pane + "\u{1B}[2;3r" + reset + "\u{1B}[3;1H\r\nx\r\n") == "1\n2\n3\nx\n", "\(reset)")
        }
        // A full reset also clears the screen: what was on it is kept.
        #expect(clean(Self.pane + "\u{1B}[2;3r\u{1B}c\u{1B}[3;1H\r\nx\r\n") == "1\n2\n3\n4\n\nx\n")
    }
}

struct AlternateScreenTests {
    @Test func fullScreenOutputIsReplacedByOneNote() {
        let input = "before\r\n\u{1B}[?1049h\u{1B}[H\u{1B}[2Jfull screen\r\n\u{1B}[10;1Hmore\u{1B}[?1049lafter\r\n"
        #expect(clean(input) == "before\n\(PaneLogFilter.alternateScreenNote)\nafter\n")
    }

    @Test func silentAlternateScreenLeavesNoNote() {
        #expect(clean("a\r\n\u{1B}[?1049h\u{1B}[?1049lb\r\n") == "a\nb\n")
        #expect(clean("a\r\n\u{1B}[?47h\u{1B}[2J\u{1B}[?47lb\r\n") == "a\nb\n")
    }

    @Test func streamEndingInTheAlternateScreen() {
        #expect(clean("a\r\n\u{1B}[?1049hvim") == "a\n\(PaneLogFilter.alternateScreenNote)\n")
    }
}

@Suite("Committing: idle flushes, settled lines, bounds")
struct CommitTests {
    @Test func flushWritesPendingLinesAndLeavesTheLastOneOpen() {
        var stepper = Stepper()
        stepper.feed("first\r\nprompt> ")
        stepper.filter.flush()
        #expect(stepper.written() == "first\nprompt>")
        stepper.feed("yes\r\nnext\r\n")
        stepper.filter.finish()
        #expect(stepper.written() == " yes\nnext\n")
    }

    @Test func lineRewrittenAfterAFlushIsWrittenAgain() {
        var stepper = Stepper()
        stepper.feed("progress 50%")
        stepper.filter.flush()
        stepper.feed("\rprogress 75%")
        stepper.filter.flush()
        stepper.feed("\rprogress 100%\r\n")
        stepper.filter.finish()
        #expect(stepper.written() == "progress 50%\nprogress 75%\nprogress 100%\n")
    }

    @Test func identicalFramesAfterAFlushAreNotRepeated() {
        var stepper = Stepper()
        stepper.feed("top\r\n⠋ Working")
        stepper.filter.flush()
        for _ in 0..<20 {
            stepper.feed("\r⠋ Working")
            stepper.filter.flush()
        }
        stepper.feed("\r\n")
        stepper.filter.finish()
        #expect(stepper.written() == "top\n⠋ Working\n")
    }

    @Test func statusBlockFlushedThenRedrawnIdenticallyIsNotRepeated() {
        var stepper = Stepper()
        let block = "\u{1B}[2Kalpha\r\n\u{1B}[2Kbeta\r\n"
        stepper.feed("head\r\n" + block)
        stepper.filter.flush()
        for _ in 0..<5 { stepper.feed("\u{1B}[2A" + block) }
        stepper.filter.flush()
        stepper.filter.finish()
        #expect(stepper.written() == "head\nalpha\nbeta\n")
    }

    @Test func settledLinesAboveABusySpinnerAreWritten() {
        var stepper = Stepper()
        stepper.feed("line 1\r\nline 2\r\n⠋ busy")
        stepper.filter.commitSettled()
        #expect(stepper.written() == "", "a first look only records what the lines are")
        stepper.feed("\r⠙ busy")
        stepper.filter.commitSettled()
        #expect(stepper.written() == "line 1\nline 2\n")
        stepper.feed("\r\u{1B}[2Kdone\r\n")
        stepper.filter.finish()
        #expect(stepper.written() == "done\n")
    }

    @Test func settledStopsAtTheFirstLineStillChanging() {
        var stepper = Stepper()
        stepper.feed("stable\r\ntick 1\r\nbelow\r\n")
        stepper.filter.commitSettled()
        stepper.feed("\u{1B}[2A\rtick 2\r\n\r\n")
        stepper.filter.commitSettled()
        #expect(stepper.written() == "stable\n")
    }

    @Test func longLinesAreBrokenAtTheCap() {
        let options = PaneLogFilter.Options(maxLineColumns: 16)
        #expect(
            clean(String(repeating: "x", count: 40) + "\r\n", options: options)
                == String(repeating: "x", count: 16) + "\n" + String(repeating: "x", count: 16) + "\n"
                + String(repeating: "x", count: 8) + "\n")
        // A wide character never straddles the break.
        #expect(
            clean(String(repeating: "x", count: 15) + "日\r\n", options: options)
                == String(repeating: "x", count: 15) + "\n日\n")
    }

    @Test func defaultCapIs64KiBColumns() {
        let output = PaneLogFilter.transcript(of: Array(repeating: UInt8(ascii: "y"), count: 150_000))
        let lengths = output.split(separator: 0x0A, omittingEmptySubsequences: false).map(\.count)
        #expect(lengths == [65_536, 65_536, 18_928, 0])
    }

    @Test func pendingWindowIsBounded() {
        var stepper = Stepper(options: .init(pendingLines: 8))
        for number in 1...20 { stepper.feed("line \(number)\r\n") }
        #expect(
            stepper.written() == (1...13).map { "line \($0)\n" }.joined(),
            "lines that scroll out of the window are written at once")
        // The cursor cannot reach back into written lines: it stops at the window's top.
        stepper.feed("\u{1B}[50AX")
        stepper.filter.finish()
        #expect(stepper.written() == "Xine 14\n" + (15...20).map { "line \($0)\n" }.joined())
    }

    @Test func pendingCellsAreBounded() {
        var stepper = Stepper(options: .init(maxPendingCells: 2_500))
        let long = String(repeating: "a", count: 1_000)
        for _ in 0..<10 { stepper.feed(long + "\r\n") }
        let early = stepper.written()
        #expect(early.count >= 7 * 1_001, "lines past the cell budget are written before the stream ends")
        stepper.filter.finish()
        #expect(early + stepper.written() == String(repeating: long + "\n", count: 10))
    }

    @Test func finishStartsANewStream() {
        var stepper = Stepper()
        stepper.feed("\u{1B}(0qq")
        stepper.filter.finish()
        stepper.feed("qq\r\n")
        stepper.filter.finish()
        #expect(stepper.written() == "──\nqq\n", "the line-drawing set does not outlive its stream")
    }
}
