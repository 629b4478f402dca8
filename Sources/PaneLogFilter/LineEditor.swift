/// The primary screen as a window of pending lines with a cursor.
///
/// Lines stay editable while they are in the window: a redraw that moves the
/// cursor up lands on them, and only their final form reaches the transcript.
/// A line leaves the window (and is written) when it scrolls out of reach;
/// `flush` and `commitSettled` write lines early but keep them editable, and a
/// line written early is written again only if its content changes.
struct LineEditor {
    let options: PaneLogFilter.Options

    /// The window is `lines[top...]`; rows below are relative to `top`.
    private var lines: [Line] = []
    private var top = 0
    /// Absolute number of the line at `top`, for saved cursor positions.
    private var base = 0
    private var nextID = 0
    private(set) var row = 0
    private(set) var column = 0
    private var accountedCells = 0
    private var spareStorage: [UInt32] = []

    /// Absolute line a saved cursor (ESC 7, CSI s) points at, and its column.
    private var saved: (line: Int, column: Int)?
    /// The absolute line shown on screen row 1, where absolute row addressing
    /// (CSI H, CSI d) and scroll regions are counted from. The filter does
    /// not know the screen's size, so the first absolute move after new
    /// lines scrolled in pins it, and later ones move relative to it.
    private var screenTop: Int?
    /// The scroll region (DECSTBM) in 1-based screen rows; `bottom` is nil
    /// when it runs to the bottom of the screen, whose height is unknown.
    private var region: (top: Int, bottom: Int?)?
    /// The lowest the screen's height can be: the largest row an absolute
    /// move or a scroll region named (0 while none did).
    private var screenRows = 0
    /// Absolute line 0 was screen row 1, as in a new pane, and the screen
    /// has not been cleared since: until more lines than the screen holds
    /// were written, none has scrolled away.
    private var startedAtScreenTop = true

    /// The transcript written so far and not yet taken.
    var output: [UInt8] = []
    /// A line written without its newline (by `flush`), which later text may continue.
    private var open: (id: Int, count: Int, prefixHash: UInt64)?

    init(options: PaneLogFilter.Options) {
        self.options = options
        lines.append(makeLine())
    }

    private var count: Int { lines.count - top }

    private mutating func makeLine() -> Line {
        defer { nextID += 1 }
        if spareStorage.capacity > 0 {
            var storage: [UInt32] = []
            swap(&storage, &spareStorage)
            return Line(id: nextID, reusing: storage)
        }
        return Line(id: nextID)
    }

    // MARK: Printing

    mutating func printASCII(_ bytes: UnsafePointer<UInt8>, count total: Int) {
        var done = 0
        while done < total {
            if column >= options.maxLineColumns { wrapAtCap() }
            let run = min(total - done, options.maxLineColumns - column)
            lines[top + row].writeASCII(bytes + done, count: run, at: column)
            column += run
            done += run
        }
    }

    mutating func print(_ value: UInt32) {
        let width = width(of: value)
        if width == 0 {
            lines[top + row].attach(value, before: column)
            return
        }
        if column + width > options.maxLineColumns { wrapAtCap() }
        lines[top + row].write(value, width: width, at: column)
        column += width
    }

    /// Unicode property lookups are slow next to everything else a byte
    /// costs, and a session uses few distinct characters beyond ASCII: they
    /// are remembered in a small direct-mapped cache (scalar << 2 | width).
    private var widthCache = [UInt32](repeating: 0, count: 256)

    private mutating func width(of value: UInt32) -> Int {
        if value < 0x300 { return 1 }
        let slot = Int(value & 0xFF)
        let entry = widthCache[slot]
        if entry >> 2 == value { return Int(entry & 3) }
        let width = CharacterWidth.of(value)
        widthCache[slot] = value << 2 | UInt32(width)
        return width
    }

    /// A line longer than the cap continues on a new line, as if the
    /// terminal had wrapped it.
    private mutating func wrapAtCap() {
        lineFeed()
        column = 0
    }

    // MARK: Cursor

    /// LF, VT and FF. The pty normally turns "\n" into "\r\n"; a bare LF also
    /// returns to column 0 here, because keeping the column would indent the
    /// transcript with blanks that were never on screen as text.
    mutating func newLine() {
        lineFeed()
        column = 0
    }

    /// IND (ESC D): down one line, same column.
    mutating func lineFeed() {
        if let bottom = region?.bottom, let cursor = cursorScreenRow {
            if cursor == bottom {
                scrollUp(1)
                return
            }
            // Above the region's bottom the screen cannot scroll: the pinned
            // rows stay where they are.
            if cursor < bottom {
                if row == count - 1 { advance() } else { setRow(row + 1) }
                return
            }
        }
        if row == count - 1 {
            if let screenTop, let cursor = cursorScreenRow, screenRows > 0 {
                // At the bottom row named so far the screen scrolls; above it,
                // it cannot: either way the pinned rows stay known.
                if cursor >= screenRows { self.screenTop = screenTop + 1 }
            } else {
                screenTop = nil
            }
            advance()
        } else {
            setRow(row + 1)
        }
    }

    mutating func carriageReturn() { column = 0 }

    mutating func backspace() {
        column = lines[top + row].backspace(from: column)
    }

    mutating func tab() {
        let stop = min((column / options.tabWidth + 1) * options.tabWidth, options.maxLineColumns - 1)
        guard stop > column else { return }
        lines[top + row].tab(from: column, to: stop)
        column = stop
    }

    /// CUU. Lines already written and gone from the window are out of
    /// reach: the cursor stops at the window's top.
    mutating func up(_ n: Int) { setRow(max(0, row - n)) }

    /// RI (ESC M): up one line, or at the top of the scroll region (of the
    /// screen, without one) a blank line opens there and the region moves down.
    mutating func reverseIndex() {
        if let cursor = cursorScreenRow, cursor == (region?.top ?? 1) {
            scrollDown(1)
        } else {
            up(1)
        }
    }

    /// CUD. Moving below the last line makes new blank lines rather than
    /// stopping, so text written there is never merged into a line above it.
    mutating func down(_ n: Int) { moveTo(line: base + row + n) }

    mutating func forward(_ n: Int) { column = min(column + n, options.maxLineColumns - 1) }

    mutating func back(_ n: Int) { column = max(0, column - n) }

    /// CHA, HPA: `n` is 1-based.
    mutating func setColumn(_ n: Int) { column = min(max(n, 1), options.maxLineColumns) - 1 }

    /// CUP, HVP, VPA: `screenRow` is 1-based.
    mutating func setRow(screen screenRow: Int) {
        screenRows = max(screenRows, screenRow)
        if screenTop == nil && startedAtScreenTop && base + count <= screenRows {
            // Every line written so far is still on the screen, from row 1.
            screenTop = 0
        }
        if let screenTop {
            moveTo(line: screenTop + screenRow - 1)
        } else {
            // Start a fresh line unless the cursor is on an empty one, so the
            // addressed text does not overwrite output that came before it.
            setRow(count - 1)
            if !lines[top + row].isBlank { down(1) }
            screenTop = base + row - (screenRow - 1)
        }
    }

    /// The cursor's 1-based screen row, when the screen is pinned.
    private var cursorScreenRow: Int? {
        screenTop.map { base + row - $0 + 1 }
    }

    /// Window index of a 1-based screen row (negative above the window).
    private func index(ofScreenRow screenRow: Int, top screenTop: Int) -> Int {
        screenTop + screenRow - 1 - base
    }

    mutating func saveCursor() { saved = (base + row, column) }

    mutating func restoreCursor() {
        guard let saved else { return }
        setRow(min(max(saved.line - base, 0), count - 1))
        column = saved.column
    }

    // MARK: Scroll regions

    /// DECSTBM. `bottom` 0 (or absent) means the bottom of the screen. As on
    /// a terminal the cursor goes home, when the screen is pinned.
    mutating func setScrollRegion(top: Int, bottom: Int) {
        let first = max(top, 1)
        if bottom > 0 && bottom <= first { return }  // invalid, ignored as tmux does
        region = first == 1 && bottom == 0 ? nil : (first, bottom > 0 ? bottom : nil)
        screenRows = max(screenRows, bottom)
        if let screenTop {
            moveTo(line: screenTop)
            column = 0
        }
    }

    /// RIS, DECSTR: the whole screen scrolls again, and nothing is pinned.
    mutating func resetScreen() {
        region = nil
        screenTop = nil
    }

    /// SU, and a line feed at the bottom of the scroll region: the region's
    /// top line leaves it into history (where tmux keeps it, whatever the
    /// region), the rest moves up, a blank line opens at its bottom. The
    /// line leaving is written now, after every line above the screen.
    /// Without a pinned screen the text only moves up under the cursor.
    mutating func scrollUp(_ n: Int) {
        guard let pinned = screenTop, let cursor = cursorScreenRow else {
            down(n)
            return
        }
        let (first, last) = region.map { ($0.top, $0.bottom) } ?? (1, nil)
        var screenTop = pinned
        account(row)
        for _ in 0..<min(n, options.pendingLines) {
            let leaving = index(ofScreenRow: first, top: screenTop)
            if leaving >= count { break }  // the region holds no line yet
            if let last, index(ofScreenRow: last, top: screenTop) < 0 { break }  // the region is above the window
            if leaving >= 0 {
                let screenStart = index(ofScreenRow: 1, top: screenTop)
                if screenStart > 0 {
                    for index in 0..<min(screenStart, count) { emit(index, final: true) }
                }
                emit(leaving, final: true)
                removeLines(leaving, 1)
            } else {
                // Its top line was written and left the window long ago:
                // every line in the window moves up a row.
                screenTop += 1
            }
            if let last, case let opening = index(ofScreenRow: last, top: screenTop), opening <= count {
                lines.insert(makeLine(), at: top + opening)
            }
            // The cursor is placed again below; until then it must stay on a line.
            if count == 0 { lines.append(makeLine()) }
            row = min(row, count - 1)
        }
        self.screenTop = screenTop
        placeCursor(onScreenRow: cursor)
    }

    /// SD, and RI at the top of the scroll region: a blank line opens at its
    /// top and the region's bottom line falls off (see `writeFalling`).
    /// Without a pinned screen a blank line opens at the cursor, so nothing
    /// is written over.
    mutating func scrollDown(_ n: Int) {
        guard let screenTop, let cursor = cursorScreenRow else {
            account(row)
            for _ in 0..<min(n, options.pendingLines) { lines.insert(makeLine(), at: top + row) }
            enforceBudget()
            return
        }
        let (first, last) = region.map { ($0.top, $0.bottom) } ?? (1, nil)
        account(row)
        for _ in 0..<min(n, options.pendingLines) {
            let opening = max(index(ofScreenRow: first, top: screenTop), 0)
            if opening >= count { break }
            if let last {
                let falling = index(ofScreenRow: last, top: screenTop)
                if falling < opening { break }
                if falling < count {
                    writeFalling(falling)
                    removeLines(falling, 1)
                }
            }
            lines.insert(makeLine(), at: top + opening)
        }
        placeCursor(onScreenRow: cursor)
        enforceBudget()
    }

    /// IL inside the scroll region: lines pushed past its bottom fall off.
    private mutating func insertLinesInRegion(_ n: Int, bottom: Int, screenTop: Int) {
        let cursor = base + row - screenTop + 1
        account(row)
        for _ in 0..<min(n, bottom - cursor + 1, options.pendingLines) {
            let falling = index(ofScreenRow: bottom, top: screenTop)
            if falling < count {
                writeFalling(falling)
                removeLines(falling, 1)
            }
            lines.insert(makeLine(), at: top + row)
        }
        column = 0
        enforceBudget()
    }

    /// DL inside the scroll region: blank lines open at its bottom.
    private mutating func deleteLinesInRegion(_ n: Int, bottom: Int, screenTop: Int) {
        let cursor = base + row - screenTop + 1
        let taken = min(n, bottom - cursor + 1, count - row)
        let below = index(ofScreenRow: bottom, top: screenTop) + 1 < count
        removeLines(row, taken)
        if below {
            let opening = index(ofScreenRow: bottom, top: screenTop) - taken + 1
            for _ in 0..<taken { lines.insert(makeLine(), at: top + opening) }
        }
        if row >= count { lines.append(makeLine()) }
        column = 0
    }

    /// A line pushed off the bottom of the scroll region leaves the screen
    /// without entering history. Unless the transcript has it as it is (or it
    /// is blank), it is written now, after the lines above it, so what is
    /// out of place is still in the order it was shown.
    private mutating func writeFalling(_ index: Int) {
        let line = lines[top + index]
        guard !line.isBlank, line.hash(upTo: line.contentEnd) != line.emittedHash else { return }
        for above in 0...index { emit(above, final: true) }
    }

    /// After lines moved, the cursor stays on its screen row.
    private mutating func placeCursor(onScreenRow screenRow: Int) {
        guard let screenTop else { return }
        let target = index(ofScreenRow: screenRow, top: screenTop)
        while count <= target { lines.append(makeLine()) }
        row = max(0, target)
        enforceBudget()
    }

    private mutating func moveTo(line absolute: Int) {
        let target = max(absolute - base, 0)
        if target < count {
            setRow(target)
            return
        }
        setRow(count - 1)
        for _ in 0..<min(target - (count - 1), options.pendingLines) { advance() }
    }

    private mutating func setRow(_ newRow: Int) {
        guard newRow != row else { return }
        account(row)
        row = newRow
    }

    // MARK: Erasing

    /// EL: 0 to the end of the line, 1 to its start, 2 all of it.
    mutating func eraseInLine(_ mode: Int) {
        switch mode {
        case 0: lines[top + row].erase(from: column)
        case 1: lines[top + row].erase(through: column)
        case 2: lines[top + row].eraseAll()
        default: break
        }
    }

    /// ED: 0 below the cursor, 1 above it, 2 and 3 the whole screen.
    mutating func eraseInDisplay(_ mode: Int) {
        switch mode {
        case 0:
            lines[top + row].erase(from: column)
            removeLines(row + 1, count - row - 1)
        case 1:
            for index in 0..<row { lines[top + index].eraseAll() }
            lines[top + row].erase(through: column)
        case 2, 3:
            // A cleared screen was seen: keep it, as tmux's scroll-on-clear
            // does, then go on from a clean window.
            commitAll()
            screenTop = nil
            startedAtScreenTop = false
        default:
            break
        }
    }

    mutating func eraseCharacters(_ n: Int) {
        lines[top + row].eraseCharacters(at: column, count: n)
    }

    mutating func deleteCharacters(_ n: Int) {
        lines[top + row].deleteCharacters(at: column, count: n)
    }

    mutating func insertBlanks(_ n: Int) {
        lines[top + row].insertBlanks(at: column, count: n, limit: options.maxLineColumns)
    }

    /// IL: blank lines pushed in at the cursor. Outside a scroll region that
    /// holds the cursor it does nothing, as on a terminal.
    mutating func insertLines(_ n: Int) {
        if let region, let screenTop, let cursor = cursorScreenRow {
            guard cursor >= region.top, cursor <= region.bottom ?? Int.max else { return }
            if let bottom = region.bottom {
                insertLinesInRegion(n, bottom: bottom, screenTop: screenTop)
                return
            }
        }
        account(row)
        for _ in 0..<min(n, options.pendingLines) {
            lines.insert(makeLine(), at: top + row)
        }
        column = 0
        enforceBudget()
    }

    /// DL: lines taken out at the cursor; what was below moves up.
    mutating func deleteLines(_ n: Int) {
        if let region, let screenTop, let cursor = cursorScreenRow {
            guard cursor >= region.top, cursor <= region.bottom ?? Int.max else { return }
            if let bottom = region.bottom {
                deleteLinesInRegion(n, bottom: bottom, screenTop: screenTop)
                return
            }
        }
        removeLines(row, min(n, count - row))
        if row >= count { lines.append(makeLine()) }
        column = 0
    }

    // MARK: Writing the transcript

    /// Writes the window as it stands. The last line with content stays open
    /// when the cursor is on (or above) it, so text added to it later
    /// continues it instead of repeating it.
    mutating func flush() {
        emitWindow(final: false)
    }

    /// Writes every line above the cursor that has not changed since the
    /// previous call, down to the first one that has: lines above a spinner
    /// that never rests reach the transcript without waiting for idleness.
    mutating func commitSettled() {
        var atRest = true
        for index in 0..<row {
            let hash = lines[top + index].hash(upTo: lines[top + index].contentEnd)
            let unchanged = hash == lines[top + index].settledHash
            lines[top + index].settledHash = hash
            if atRest && unchanged {
                emit(index, final: true)
            } else {
                atRest = false
            }
        }
    }

    /// Writes the whole window, every line complete, and keeps it editable.
    mutating func writeWindow() {
        emitWindow(final: true)
    }

    /// Writes the whole window and empties it; the cursor keeps its column.
    mutating func commitAll() {
        emitWindow(final: true)
        closeOpenLine()
        account(row)
        while count > 0 { dropTop() }
        lines.append(makeLine())
        row = 0
    }

    /// A line that is not part of the screen (the alternate-screen note).
    mutating func note(_ text: String) {
        closeOpenLine()
        output.append(contentsOf: text.utf8)
        output.append(0x0A)
    }

    private mutating func emitWindow(final: Bool) {
        var lastContent = -1
        for index in stride(from: count - 1, through: 0, by: -1) where !lines[top + index].isBlank {
            lastContent = index
            break
        }
        for index in 0..<count {
            if index >= row && index > lastContent { break }
            emit(index, final: final || index != lastContent || index < row)
        }
        if final { closeOpenLine() }
    }

    /// Writes one line unless the transcript already has it as it is now.
    private mutating func emit(_ index: Int, final: Bool) {
        let end = lines[top + index].contentEnd
        let hash = lines[top + index].hash(upTo: end)
        if let open {
            if open.id == lines[top + index].id {
                if end >= open.count && lines[top + index].hash(upTo: open.count) == open.prefixHash {
                    lines[top + index].render(from: open.count, to: end, into: &output)
                    if final {
                        output.append(0x0A)
                        lines[top + index].emittedHash = hash
                        self.open = nil
                    } else {
                        self.open = (open.id, end, hash)
                    }
                    return
                }
                // Rewritten since it was opened: end what was written, then write it anew.
                output.append(0x0A)
                lines[top + index].emittedHash = open.prefixHash
                self.open = nil
            }
        }
        let emitted = lines[top + index].emittedHash
        // Unchanged, or erased after it was written: nothing new to say.
        if hash == emitted || (end == 0 && emitted != 0) { return }
        closeOpenLine()
        lines[top + index].render(from: 0, to: end, into: &output)
        if final {
            output.append(0x0A)
            lines[top + index].emittedHash = hash
        } else if end > 0 {
            open = (lines[top + index].id, end, hash)
        }
    }

    private mutating func closeOpenLine() {
        guard let open else { return }
        output.append(0x0A)
        self.open = nil
        for index in stride(from: count - 1, through: 0, by: -1) where lines[top + index].id == open.id {
            lines[top + index].emittedHash = open.prefixHash
            break
        }
    }

    // MARK: The window

    /// From the last line, opens a new line below it and moves there.
    private mutating func advance() {
        account(row)
        lines.append(makeLine())
        row += 1
        enforceBudget()
    }

    /// Keeps the window within its line count and memory budget by
    /// committing lines from the top (from the bottom only when the cursor is
    /// on the top line, where lines pushed in by IL fall off a terminal too).
    private mutating func enforceBudget() {
        while count > options.pendingLines || (accountedCells > options.maxPendingCells && count > 1) {
            if row > 0 {
                emit(0, final: true)
                dropTop()
                row -= 1
            } else {
                emit(count - 1, final: true)
                removeLines(count - 1, 1)
            }
        }
        if top > 64 && top * 2 > lines.count {
            lines.removeFirst(top)
            top = 0
        }
    }

    private mutating func dropTop() {
        if open?.id == lines[top].id { closeOpenLine() }
        accountedCells -= lines[top].accountedCells
        if spareStorage.capacity == 0 && lines[top].cells.capacity <= 4096 {
            swap(&spareStorage, &lines[top].cells)
        }
        lines[top] = Line(id: -1)
        top += 1
        base += 1
    }

    private mutating func removeLines(_ start: Int, _ n: Int) {
        guard n > 0 else { return }
        account(row)
        for index in start..<(start + n) {
            if open?.id == lines[top + index].id { closeOpenLine() }
            accountedCells -= lines[top + index].accountedCells
        }
        lines.removeSubrange((top + start)..<(top + start + n))
    }

    /// Brings the memory budget up to date for a line the cursor leaves.
    private mutating func account(_ index: Int) {
        let cells = lines[top + index].cells.count
        accountedCells += cells - lines[top + index].accountedCells
        lines[top + index].accountedCells = cells
    }
}
