/// Turns the raw byte stream of a terminal pane into a readable transcript.
///
/// Feed it chunks split anywhere (escape sequences and UTF-8 may be cut
/// across chunks); it interprets what a terminal would do with them on a line
/// editor and writes each line of output once, in its final form, as UTF-8
/// text ending in "\n". Escape sequences and control characters are removed;
/// carriage-return and cursor-up redraws (spinners, progress bars, status
/// blocks) collapse to what was last shown. Call `flush()` when the stream
/// goes idle and `finish()` at its end.
///
/// Written text collects in `output`; take it with `takeOutput()` or
/// `drainOutput(_:)`.
public struct PaneLogFilter: Sendable {
    public struct Options: Sendable, Equatable {
        /// A line longer than this many columns is broken, as a terminal would wrap it.
        public var maxLineColumns: Int
        /// How many lines stay editable before the oldest is written out.
        /// It should be at least the pane's height, since a program cannot
        /// move the cursor above the top of the screen.
        public var pendingLines: Int
        /// Memory budget for the pending lines, in cells of 4 bytes; beyond it
        /// the oldest lines are written out early.
        public var maxPendingCells: Int
        public var tabWidth: Int

        public init(
            maxLineColumns: Int = 65_536,
            pendingLines: Int = 256,
            maxPendingCells: Int = 1 << 20,
            tabWidth: Int = 8
        ) {
            self.maxLineColumns = max(maxLineColumns, 16)
            self.pendingLines = max(pendingLines, 1)
            self.maxPendingCells = max(maxPendingCells, 1)
            self.tabWidth = max(tabWidth, 1)
        }
    }

    /// The line written where a full-screen (alternate screen) program ran.
    public static let alternateScreenNote = "[full-screen output omitted]"

    enum State: UInt8 {
        case ground
        case escape
        case escapeIntermediate
        case csi
        case csiIgnore
        case osc
        case oscEscape
        case string
        case stringEscape
    }

    var editor: LineEditor

    var state = State.ground
    // CSI parameters: only the first two matter to the line editor, and
    // whether any of them names the alternate screen (for ?h / ?l).
    var paramCount = 0
    var currentParam = 0
    var param0 = 0
    var param1 = 0
    var namesAlternateScreen = false
    var csiFresh = false
    var privateMarker: UInt8 = 0
    var intermediate: UInt8 = 0

    /// The previous byte of an OSC or DCS string was 0xC2: with 0x9C it makes
    /// U+009C, the C1 string terminator written as UTF-8.
    var stringSawC2 = false

    var utf8Need = 0
    var utf8Value: UInt32 = 0
    var utf8Minimum: UInt32 = 0

    // G0 and G1 designations (ESC ( 0, ESC ) 0) and which one SO/SI selected.
    var g0Graphics = false
    var g1Graphics = false
    var shifted = false
    var graphicsActive: Bool { shifted ? g1Graphics : g0Graphics }

    var alternateScreen = false
    var alternatePrinted = false

    /// Input arrived since the last `flush()`.
    public private(set) var hasUnflushedInput = false

    public init(options: Options = Options()) {
        editor = LineEditor(options: options)
    }

    public var options: Options { editor.options }

    // MARK: Input

    public mutating func feed(_ chunk: UnsafeRawBufferPointer) {
        guard let start = chunk.baseAddress, chunk.count > 0 else { return }
        hasUnflushedInput = true
        let bytes = start.assumingMemoryBound(to: UInt8.self)
        let total = chunk.count
        var index = 0
        while index < total {
            let byte = bytes[index]
            switch state {
            case .ground where utf8Need == 0 && !alternateScreen:
                // Most bytes are plain text: take runs of them at once.
                if byte >= 0x20 && byte < 0x7F && !graphicsActive {
                    var end = index + 1
                    while end < total {
                        let next = bytes[end]
                        if next < 0x20 || next >= 0x7F { break }
                        end += 1
                    }
                    editor.printASCII(bytes + index, count: end - index)
                    index = end
                    continue
                }
                // A whole UTF-8 character in this chunk: decode it here; a
                // cut or invalid one goes the slow way, byte by byte.
                if byte >= 0xC2 && byte <= 0xF4 {
                    let need = byte >= 0xF0 ? 3 : byte >= 0xE0 ? 2 : 1
                    if index + need < total {
                        var value = UInt32(byte & (0x3F >> need))
                        var valid = true
                        for offset in 1...need {
                            let next = bytes[index + offset]
                            if next & 0xC0 != 0x80 {
                                valid = false
                                break
                            }
                            value = value << 6 | UInt32(next & 0x3F)
                        }
                        let minimum: UInt32 = need == 1 ? 0x80 : need == 2 ? 0x800 : 0x1_0000
                        if valid && value >= minimum && value <= 0x10FFFF && !(0xD800...0xDFFF).contains(value) {
                            printScalar(value)
                            index += need + 1
                            continue
                        }
                    }
                }
            case .csi where intermediate == 0:
                if byte >= 0x30 && byte <= 0x39 {
                    currentParam = min(currentParam * 10 + Int(byte - 0x30), 65_535)
                    csiFresh = false
                    index += 1
                    continue
                }
            default:
                break
            }
            step(byte)
            index += 1
        }
    }

    public mutating func feed(_ bytes: some Collection<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            feed(UnsafeRawBufferPointer(buffer))
        }
        if done == nil {
            Array(bytes).withUnsafeBytes { feed($0) }
        }
    }

    // MARK: Committing

    /// The stream went idle: write every pending line now, so a reader sees
    /// it promptly. Lines stay editable; one that changes later is written
    /// again, and the last line, if still being written, is left open so
    /// text added to it continues it.
    public mutating func flush() {
        editor.flush()
        hasUnflushedInput = false
    }

    /// Writes lines above the cursor that have not changed since the previous
    /// call, for a stream that never goes idle (a spinner animating below
    /// real output). Call it about once a second while input keeps coming.
    public mutating func commitSettled() {
        editor.commitSettled()
    }

    /// The stream ended: write everything, close the last line, and start
    /// over as for a new stream.
    public mutating func finish() {
        if utf8Need > 0 {
            utf8Need = 0
            printScalar(0xFFFD)
        }
        state = .ground
        leaveAlternateScreen()
        editor.commitAll()
        let written = editor.output
        editor = LineEditor(options: editor.options)
        editor.output = written
        g0Graphics = false
        g1Graphics = false
        shifted = false
        hasUnflushedInput = false
    }

    // MARK: Output

    /// Transcript text written so far and not yet taken.
    public var output: [UInt8] { editor.output }

    public mutating func takeOutput() -> [UInt8] {
        var taken: [UInt8] = []
        swap(&taken, &editor.output)
        return taken
    }

    /// Hands the pending output to `body`, then forgets it (keeping the
    /// buffer's storage for the next chunk).
    public mutating func drainOutput(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        guard !editor.output.isEmpty else { return }
        try editor.output.withUnsafeBytes(body)
        editor.output.removeAll(keepingCapacity: true)
    }

    /// The transcript of a complete recorded stream.
    public static func transcript(of bytes: some Collection<UInt8>, options: Options = Options()) -> [UInt8] {
        var filter = PaneLogFilter(options: options)
        filter.feed(bytes)
        filter.finish()
        return filter.takeOutput()
    }
}
