// The ECMA-48 / VT parser: one byte at a time, in the states of the DEC
// state machine, so a sequence cut anywhere across chunks is still whole.

extension PaneLogFilter {
    private static let bel: UInt8 = 0x07
    private static let esc: UInt8 = 0x1B
    private static let can: UInt8 = 0x18
    private static let sub: UInt8 = 0x1A

    mutating func step(_ byte: UInt8) {
        switch state {
        case .ground:
            ground(byte)
        case .escape, .escapeIntermediate, .csi, .csiIgnore:
            if byte < 0x20 {
                // Controls act even in the middle of a sequence, as on a VT;
                // ESC starts over, CAN and SUB cancel.
                switch byte {
                case Self.esc: state = .escape
                case Self.can, Self.sub: state = .ground
                default: control(byte)
                }
                return
            }
            if byte == 0x7F { return }
            switch state {
            case .escape: escape(byte)
            case .escapeIntermediate: escapeIntermediate(byte)
            case .csi: csi(byte)
            default: if byte >= 0x40 && byte <= 0x7E { state = .ground }
            }
        case .osc:
            // OSC ends with BEL or ST (ESC \). Its text (titles, links,
            // clipboard) is not part of the transcript.
            switch byte {
            case Self.bel, Self.can, Self.sub: state = .ground
            case Self.esc: state = .oscEscape
            case 0x9C where stringSawC2: state = .ground
            default: break
            }
            stringSawC2 = byte == 0xC2
        case .string:
            // DCS, SOS, PM and APC end with ST only.
            switch byte {
            case Self.can, Self.sub: state = .ground
            case Self.esc: state = .stringEscape
            case 0x9C where stringSawC2: state = .ground
            default: break
            }
            stringSawC2 = byte == 0xC2
        case .oscEscape, .stringEscape:
            switch byte {
            case UInt8(ascii: "\\"):
                state = .ground
            case Self.esc where state == .stringEscape:
                // tmux passthrough doubles the ESCs of the sequence it wraps.
                state = .string
            default:
                // Any other sequence ends the string, as in xterm, so an
                // unterminated one cannot swallow the rest of the stream.
                state = .escape
                step(byte)
            }
        }
    }

    // MARK: Text

    private mutating func ground(_ byte: UInt8) {
        if utf8Need > 0 {
            if byte & 0xC0 == 0x80 {
                utf8Value = utf8Value << 6 | UInt32(byte & 0x3F)
                utf8Need -= 1
                if utf8Need == 0 {
                    let valid =
                        utf8Value >= utf8Minimum && utf8Value <= 0x10FFFF
                        && !(0xD800...0xDFFF).contains(utf8Value)
                    printScalar(valid ? utf8Value : 0xFFFD)
                }
                return
            }
            utf8Need = 0
            printScalar(0xFFFD)
        }
        switch byte {
        case 0x00..<0x20:
            control(byte)
        case 0x20..<0x7F:
            if alternateScreen {
                alternatePrinted = true
            } else if graphicsActive && byte >= 0x5F {
                editor.print(Self.decGraphics[Int(byte - 0x5F)])
            } else {
                editor.print(UInt32(byte))
            }
        case 0x7F:
            break
        case 0xC2...0xDF:
            beginUTF8(need: 1, value: byte & 0x1F, minimum: 0x80)
        case 0xE0...0xEF:
            beginUTF8(need: 2, value: byte & 0x0F, minimum: 0x800)
        case 0xF0...0xF4:
            beginUTF8(need: 3, value: byte & 0x07, minimum: 0x1_0000)
        default:
            printScalar(0xFFFD)
        }
    }

    private mutating func beginUTF8(need: Int, value: UInt8, minimum: UInt32) {
        utf8Need = need
        utf8Value = UInt32(value)
        utf8Minimum = minimum
    }

    mutating func printScalar(_ value: UInt32) {
        if value >= 0x80 && value <= 0x9F {
            // A C1 control written as UTF-8 means ESC and its 7-bit form.
            state = .escape
            escape(UInt8(value - 0x40))
            return
        }
        if alternateScreen {
            alternatePrinted = true
            return
        }
        editor.print(value)
    }

    private mutating func control(_ byte: UInt8) {
        switch byte {
        case 0x0E: shifted = true
        case 0x0F: shifted = false
        case Self.can, Self.sub: state = .ground
        case Self.esc: state = .escape
        default:
            guard !alternateScreen else { return }
            switch byte {
            case 0x08: editor.backspace()
            case 0x09: editor.tab()
            case 0x0A, 0x0B, 0x0C: editor.newLine()
            case 0x0D: editor.carriageReturn()
            default: break  // BEL and the rest leave nothing on screen
            }
        }
    }

    // MARK: Escape sequences

    private mutating func escape(_ byte: UInt8) {
        state = .ground
        switch byte {
        case 0x20...0x2F:
            intermediate = byte
            state = .escapeIntermediate
        case UInt8(ascii: "["):
            paramCount = 0
            currentParam = 0
            param0 = 0
            param1 = 0
            namesAlternateScreen = false
            csiFresh = true
            privateMarker = 0
            intermediate = 0
            state = .csi
        case UInt8(ascii: "]"):
            state = .osc
            stringSawC2 = false
        case UInt8(ascii: "P"), UInt8(ascii: "X"), UInt8(ascii: "^"), UInt8(ascii: "_"):
            state = .string
            stringSawC2 = false
        case UInt8(ascii: "c"):
            resetTerminal()
        default:
            guard !alternateScreen else { return }
            switch byte {
            case UInt8(ascii: "7"): editor.saveCursor()
            case UInt8(ascii: "8"): editor.restoreCursor()
            case UInt8(ascii: "D"): editor.lineFeed()
            case UInt8(ascii: "E"): editor.newLine()
            case UInt8(ascii: "M"): editor.reverseIndex()
            default: break  // keypad modes, single shifts, stray ST
            }
        }
    }

    private mutating func escapeIntermediate(_ byte: UInt8) {
        guard byte >= 0x30 else { return }  // more intermediates
        state = .ground
        switch intermediate {
        case UInt8(ascii: "("): g0Graphics = byte == UInt8(ascii: "0")
        case UInt8(ascii: ")"): g1Graphics = byte == UInt8(ascii: "0")
        default: break
        }
    }

    private mutating func csi(_ byte: UInt8) {
        let fresh = csiFresh
        csiFresh = false
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            guard intermediate == 0 else {
                state = .csiIgnore
                return
            }
            currentParam = min(currentParam * 10 + Int(byte - 0x30), 65_535)
        case UInt8(ascii: ";"), UInt8(ascii: ":"):
            guard intermediate == 0 else {
                state = .csiIgnore
                return
            }
            endParam()
        case 0x3C...0x3F:
            if fresh { privateMarker = byte } else { state = .csiIgnore }
        case 0x20...0x2F:
            intermediate = byte
        case 0x40...0x7E:
            state = .ground
            endParam()
            dispatchCSI(byte)
        default:
            state = .csiIgnore
        }
    }

    private mutating func endParam() {
        switch paramCount {
        case 0: param0 = currentParam
        case 1: param1 = currentParam
        default: break
        }
        if currentParam == 1049 || currentParam == 1047 || currentParam == 47 { namesAlternateScreen = true }
        paramCount += 1
        currentParam = 0
    }

    private mutating func dispatchCSI(_ final: UInt8) {
        if privateMarker == UInt8(ascii: "?") && intermediate == 0 {
            if final == UInt8(ascii: "h") || final == UInt8(ascii: "l") {
                setPrivateModes(on: final == UInt8(ascii: "h"))
            }
            return
        }
        if privateMarker == 0 && intermediate == UInt8(ascii: "!") && final == UInt8(ascii: "p") && !alternateScreen {
            editor.resetScreen()  // DECSTR, soft reset: the scroll region goes
            return
        }
        // Other private sequences and those with intermediates (cursor
        // style, key modifiers) do not change the text.
        guard privateMarker == 0, intermediate == 0, !alternateScreen else { return }
        let first = param0
        let n = max(first, 1)
        switch final {
        case UInt8(ascii: "A"): editor.up(n)
        case UInt8(ascii: "B"), UInt8(ascii: "e"): editor.down(n)
        case UInt8(ascii: "C"), UInt8(ascii: "a"): editor.forward(n)
        case UInt8(ascii: "D"): editor.back(n)
        case UInt8(ascii: "E"):
            editor.down(n)
            editor.carriageReturn()
        case UInt8(ascii: "F"):
            editor.up(n)
            editor.carriageReturn()
        case UInt8(ascii: "G"), UInt8(ascii: "`"): editor.setColumn(first)
        case UInt8(ascii: "H"), UInt8(ascii: "f"):
            editor.setRow(screen: n)
            editor.setColumn(paramCount > 1 ? param1 : 1)
        case UInt8(ascii: "d"): editor.setRow(screen: n)
        case UInt8(ascii: "I"): for _ in 0..<min(n, 64) { editor.tab() }
        case UInt8(ascii: "Z"): editor.back((editor.column - 1) % options.tabWidth + 1 + (n - 1) * options.tabWidth)
        case UInt8(ascii: "J"): editor.eraseInDisplay(first)
        case UInt8(ascii: "K"): editor.eraseInLine(first)
        case UInt8(ascii: "X"): editor.eraseCharacters(n)
        case UInt8(ascii: "P"): editor.deleteCharacters(n)
        case UInt8(ascii: "@"): editor.insertBlanks(n)
        case UInt8(ascii: "L"): editor.insertLines(n)
        case UInt8(ascii: "M"): editor.deleteLines(n)
        case UInt8(ascii: "S"): editor.scrollUp(n)
        case UInt8(ascii: "T"): if paramCount == 1 { editor.scrollDown(n) }  // more is mouse highlighting
        case UInt8(ascii: "r"): editor.setScrollRegion(top: first, bottom: paramCount > 1 ? param1 : 0)
        case UInt8(ascii: "s"): if paramCount == 1 && first == 0 { editor.saveCursor() }
        case UInt8(ascii: "u"): editor.restoreCursor()
        default: break  // SGR, reports, window ops
        }
    }

    // MARK: Modes

    /// The alternate screen (vim, less, full-screen programs) is repainted in
    /// place by absolute positioning; a line transcript cannot hold it, and a
    /// terminal throws it away on leaving too. Its text is dropped and one
    /// note line records that it was there.
    private mutating func setPrivateModes(on: Bool) {
        guard namesAlternateScreen else { return }
        if on { enterAlternateScreen() } else { leaveAlternateScreen() }
    }

    private mutating func enterAlternateScreen() {
        guard !alternateScreen else { return }
        alternateScreen = true
        alternatePrinted = false
    }

    mutating func leaveAlternateScreen() {
        guard alternateScreen else { return }
        alternateScreen = false
        guard alternatePrinted else { return }
        editor.writeWindow()
        editor.note(Self.alternateScreenNote)
    }

    /// RIS (ESC c): a full reset clears the screen; what was on it is kept,
    /// as for a cleared screen.
    private mutating func resetTerminal() {
        leaveAlternateScreen()
        editor.eraseInDisplay(2)
        editor.resetScreen()
        g0Graphics = false
        g1Graphics = false
        shifted = false
    }

    /// DEC Special Graphics for 0x5F...0x7E (ESC ( 0): the line-drawing set.
    static let decGraphics: [UInt32] = [
        0x0020, 0x25C6, 0x2592, 0x2409, 0x240C, 0x240D, 0x240A, 0x00B0,
        0x00B1, 0x2424, 0x240B, 0x2518, 0x2510, 0x250C, 0x2514, 0x253C,
        0x23BA, 0x23BB, 0x2500, 0x23BC, 0x23BD, 0x251C, 0x2524, 0x2534,
        0x252C, 0x2502, 0x2264, 0x2265, 0x03C0, 0x2260, 0x00A3, 0x00B7,
    ]
}
