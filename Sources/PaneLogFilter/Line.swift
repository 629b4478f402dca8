/// One line of the pending window, held as terminal cells so that overwrites,
/// erases and cursor movements act on columns exactly as the terminal did.
///
/// A cell is a Unicode scalar value, or `Line.tail` for the columns covered by
/// the wide character or tab to its left, or `Line.clusterBit | index` for a
/// character followed by combining marks (kept aside in `clusters`).
struct Line {
    static let space: UInt32 = 0x20
    static let tab: UInt32 = 0x09
    static let tail: UInt32 = 0x11_0000
    static let clusterBit: UInt32 = 0x8000_0000
    // A long run of combining marks (or one mark per cell, rewritten over and
    // over) must not grow without bound; past these the marks are dropped.
    static let maxClusters = 4096
    static let maxClusterScalars = 16

    /// Never reused, so a line that was removed cannot be mistaken for a new
    /// one at the same position.
    var id: Int
    var cells: [UInt32]
    var clusters: [[UInt32]] = []
    /// Hash of the content last written to the transcript; 0 when never written.
    var emittedHash: UInt64 = 0
    /// Hash seen by the previous `commitSettled`, to tell a line at rest from one being redrawn.
    var settledHash: UInt64 = 0
    /// Cells counted in the window's memory budget.
    var accountedCells = 0

    init(id: Int, reusing storage: [UInt32] = []) {
        self.id = id
        self.cells = storage
        self.cells.removeAll(keepingCapacity: true)
    }

    // MARK: Reading

    /// The number of cells left once trailing blanks (spaces, tabs) are trimmed.
    var contentEnd: Int {
        var end = cells.count
        while end > 0 {
            var head = end - 1
            while head > 0 && cells[head] == Line.tail { head -= 1 }
            let value = cells[head]
            guard value == Line.space || value == Line.tab || value == Line.tail else { break }
            end = head
        }
        return end
    }

    var isBlank: Bool { contentEnd == 0 }

    /// FNV-1a over the first `end` cells; never 0, which means "not emitted".
    func hash(upTo end: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ value: UInt32) {
            h = (h ^ UInt64(value)) &* 0x100_0000_01b3
        }
        var index = 0
        while index < end {
            let value = cells[index]
            if value & Line.clusterBit != 0 {
                for scalar in clusters[Int(value & ~Line.clusterBit)] { mix(scalar) }
                mix(0xFFFF_FFFF)
            } else {
                mix(value)
            }
            index += 1
        }
        mix(UInt32(truncatingIfNeeded: end))
        return h == 0 ? 1 : h
    }

    /// Appends the UTF-8 of cells `start..<end` to `out`.
    func render(from start: Int, to end: Int, into out: inout [UInt8]) {
        var index = start
        while index < end {
            let value = cells[index]
            index += 1
            if value < 0x80 {
                out.append(UInt8(truncatingIfNeeded: value))
            } else if value == Line.tail {
                continue
            } else if value & Line.clusterBit != 0 {
                for scalar in clusters[Int(value & ~Line.clusterBit)] { Line.appendUTF8(scalar, to: &out) }
            } else {
                Line.appendUTF8(value, to: &out)
            }
        }
    }

    static func appendUTF8(_ value: UInt32, to out: inout [UInt8]) {
        switch value {
        case 0..<0x80:
            out.append(UInt8(truncatingIfNeeded: value))
        case 0x80..<0x800:
            out.append(UInt8(truncatingIfNeeded: 0xC0 | (value >> 6)))
            out.append(UInt8(truncatingIfNeeded: 0x80 | (value & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(truncatingIfNeeded: 0xE0 | (value >> 12)))
            out.append(UInt8(truncatingIfNeeded: 0x80 | ((value >> 6) & 0x3F)))
            out.append(UInt8(truncatingIfNeeded: 0x80 | (value & 0x3F)))
        default:
            out.append(UInt8(truncatingIfNeeded: 0xF0 | (value >> 18)))
            out.append(UInt8(truncatingIfNeeded: 0x80 | ((value >> 12) & 0x3F)))
            out.append(UInt8(truncatingIfNeeded: 0x80 | ((value >> 6) & 0x3F)))
            out.append(UInt8(truncatingIfNeeded: 0x80 | (value & 0x3F)))
        }
    }

    // MARK: Writing

    /// Writes a run of printable ASCII starting at `column`; the caller has
    /// made sure the run fits under the column cap.
    mutating func writeASCII(_ bytes: UnsafePointer<UInt8>, count: Int, at column: Int) {
        if column > cells.count { padWithSpaces(to: column) }
        let overwritten = min(count, cells.count - column)
        if overwritten > 0 {
            // Wide characters and tabs under either end of the run lose
            // their other half; the ones inside are overwritten whole.
            breakCluster(at: column)
            if column + overwritten < cells.count && cells[column + overwritten] == Line.tail {
                breakCluster(at: column + overwritten)
            }
        }
        let appended = count - overwritten
        if appended > 0 { cells.append(contentsOf: repeatElement(0, count: appended)) }
        cells.withUnsafeMutableBufferPointer { cells in
            for index in 0..<count { cells[column + index] = UInt32(bytes[index]) }
        }
    }

    /// Writes one character of `width` 1 or 2 at `column`.
    mutating func write(_ value: UInt32, width: Int, at column: Int) {
        let count = cells.count
        if column == count {
            cells.append(value)
            if width == 2 { cells.append(Line.tail) }
            return
        }
        // Redraws mostly put a narrow character over a narrow one.
        if width == 1 && column < count && cells[column] != Line.tail
            && (column + 1 == count || cells[column + 1] != Line.tail)
        {
            cells[column] = value
            return
        }
        if column > count { padWithSpaces(to: column) }
        for covered in column..<(column + width) where covered < cells.count {
            breakCluster(at: covered)
        }
        if column + width < cells.count && cells[column + width] == Line.tail {
            breakCluster(at: column + width)
        }
        if column < cells.count { cells[column] = value } else { cells.append(value) }
        if width == 2 {
            if column + 1 < cells.count { cells[column + 1] = Line.tail } else { cells.append(Line.tail) }
        }
    }

    /// Attaches a zero-width scalar (combining mark, joiner, variation
    /// selector) to the character just before `column`.
    mutating func attach(_ value: UInt32, before column: Int) {
        guard column > 0, column <= cells.count else { return }
        var head = column - 1
        while head > 0 && cells[head] == Line.tail { head -= 1 }
        let existing = cells[head]
        if existing == Line.tail || existing == Line.tab { return }
        if existing & Line.clusterBit != 0 {
            let index = Int(existing & ~Line.clusterBit)
            if clusters[index].count < Line.maxClusterScalars { clusters[index].append(value) }
        } else {
            // Redraws orphan the clusters of the cells they overwrite.
            if clusters.count >= Line.maxClusters { compactClusters() }
            guard clusters.count < Line.maxClusters else { return }
            clusters.append([existing, value])
            cells[head] = Line.clusterBit | UInt32(clusters.count - 1)
        }
    }

    /// Keeps only the clusters that cells still refer to.
    private mutating func compactClusters() {
        var kept: [[UInt32]] = []
        for index in cells.indices where cells[index] & Line.clusterBit != 0 {
            kept.append(clusters[Int(cells[index] & ~Line.clusterBit)])
            cells[index] = Line.clusterBit | UInt32(kept.count - 1)
        }
        clusters = kept
    }

    /// Moves a tab from `column` to `stop`: over existing cells a tab only
    /// moves the cursor; past the end it leaves a tab character behind so the
    /// transcript keeps the author's tab.
    mutating func tab(from column: Int, to stop: Int) {
        guard stop > cells.count else { return }
        let start = max(column, cells.count)
        if start > cells.count { padWithSpaces(to: start) }
        cells.append(Line.tab)
        while cells.count < stop { cells.append(Line.tail) }
    }

    // MARK: Erasing

    /// Backspace at the end of the line erases what it backs over (the
    /// transcript should not keep what the program took back); inside the line
    /// it only moves, so the next character overwrites as on a terminal.
    mutating func backspace(from column: Int) -> Int {
        guard column > 0 else { return 0 }
        guard column == cells.count else { return column - 1 }
        var head = column - 1
        while head > 0 && cells[head] == Line.tail { head -= 1 }
        cells.removeLast(cells.count - head)
        return head
    }

    mutating func erase(from column: Int) {
        guard column < cells.count else { return }
        breakCluster(at: column)
        cells.removeLast(cells.count - column)
        if cells.isEmpty { clusters.removeAll(keepingCapacity: true) }
    }

    mutating func erase(through column: Int) {
        guard !cells.isEmpty else { return }
        if column + 1 >= cells.count {
            eraseAll()
            return
        }
        if cells[column + 1] == Line.tail { breakCluster(at: column + 1) }
        for index in 0...column { cells[index] = Line.space }
    }

    mutating func eraseAll() {
        cells.removeAll(keepingCapacity: true)
        clusters.removeAll(keepingCapacity: true)
    }

    /// ECH: blanks `count` cells from `column` without moving anything.
    mutating func eraseCharacters(at column: Int, count: Int) {
        guard column < cells.count else { return }
        let end = min(cells.count, column + count)
        breakCluster(at: column)
        if end < cells.count && cells[end] == Line.tail { breakCluster(at: end) }
        for index in column..<end { cells[index] = Line.space }
    }

    /// DCH: removes `count` cells at `column`, pulling the rest left.
    mutating func deleteCharacters(at column: Int, count: Int) {
        guard column < cells.count else { return }
        let end = min(cells.count, column + count)
        breakCluster(at: column)
        if end < cells.count && cells[end] == Line.tail { breakCluster(at: end) }
        cells.removeSubrange(column..<end)
    }

    /// ICH: inserts `count` blanks at `column`, pushing the rest right (and
    /// past `limit` off the line, as at a terminal's right margin).
    mutating func insertBlanks(at column: Int, count: Int, limit: Int) {
        guard column < cells.count else { return }
        breakCluster(at: column)
        cells.insert(contentsOf: repeatElement(Line.space, count: count), at: column)
        if cells.count > limit {
            if cells[limit] == Line.tail { breakCluster(at: limit) }
            cells.removeSubrange(limit...)
        }
    }

    // MARK: Helpers

    private mutating func padWithSpaces(to column: Int) {
        cells.append(contentsOf: repeatElement(Line.space, count: column - cells.count))
    }

    /// Replaces the wide character or tab covering `column` by spaces, as a
    /// terminal does when part of it is overwritten.
    private mutating func breakCluster(at column: Int) {
        guard column < cells.count else { return }
        var head = column
        while head > 0 && cells[head] == Line.tail { head -= 1 }
        var next = head + 1
        guard next < cells.count && cells[next] == Line.tail || head != column else { return }
        cells[head] = Line.space
        while next < cells.count && cells[next] == Line.tail {
            cells[next] = Line.space
            next += 1
        }
    }
}
