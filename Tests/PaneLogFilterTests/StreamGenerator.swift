// Generated pane streams drawn the way real terminal renderers draw, each with
// the lines it leaves in a terminal's history. The differential test plays
// them in a real tmux pane; the fuzzer (fuzz/) builds this file with the
// filter's sources and checks the filter against `kept` directly. Standard
// library only, so both can use it.

/// SplitMix64: a seeded generator, so generated streams and random chunkings
/// are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Where a generator's decisions come from: a seed, or the bytes of a fuzz
/// input (0 once they run out, so every input makes a finite stream).
struct Choices {
    private var seeded: SeededGenerator?
    private let bytes: [UInt8]
    private var position = 0

    init(seed: UInt64) {
        seeded = SeededGenerator(state: seed)
        bytes = []
    }

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    var exhausted: Bool { seeded == nil && position >= bytes.count }

    /// A number in 0..<n.
    mutating func below(_ n: Int) -> Int {
        guard n > 1 else { return 0 }
        if seeded != nil { return Int(seeded!.next() % UInt64(n)) }
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return Int(bytes[position]) % n
    }

    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

/// A generated stream and the lines a terminal keeps of it, in order: what
/// scrolled into history plus what the screen shows at the end, blank lines
/// and trailing blanks left out.
struct GeneratedStream {
    enum Renderer: String, CaseIterable, Sendable {
        /// Codex: history inserted above a fixed viewport through scroll
        /// regions, the viewport repainted by absolute moves.
        case inlineViewport
        /// ink (Claude Code): the dynamic frame erased with erase-line and
        /// cursor-up and drawn again; static output written above it.
        case ink
        /// `\r` spinners and progress bars between plain output lines.
        case spinner
        /// A status line kept on the bottom row under a scroll region (apt,
        /// build tools).
        case bottomStatus
    }

    var bytes: [UInt8] = []
    var kept: [String] = []
    /// Lines that are on screen at the end and were redrawn in place: a
    /// transcript has them in their final form, tmux shows them once.
    var liveLines = 0

    static let rows = 30
    static let columns = 120

    static func make(_ renderer: Renderer, choices: inout Choices, steps: Int) -> GeneratedStream {
        var builder = Builder(choices: choices)
        switch renderer {
        case .inlineViewport: builder.inlineViewport(steps: steps)
        case .ink: builder.ink(steps: steps)
        case .spinner: builder.spinner(steps: steps)
        case .bottomStatus: builder.bottomStatus(steps: steps)
        }
        choices = builder.choices
        return builder.stream
    }
}

private struct Builder {
    var choices: Choices
    var stream = GeneratedStream()
    var serial = 0

    let rows = GeneratedStream.rows
    let columns = GeneratedStream.columns

    init(choices: Choices) {
        self.choices = choices
    }

    mutating func write(_ text: String) { stream.bytes += Array(text.utf8) }

    mutating func csi(_ body: String) { write("\u{1B}[" + body) }

    static let words = [
        "build", "test", "patch", "main.swift", "ok", "error:", "warning", "diff", "→", "✓", "fixed",
        "Package.swift", "lint", "α", "résumé", "日本", "42", "--flag", "src/", "done",
    ]

    /// A unique line of text, shorter than the pane is wide.
    mutating func text(_ prefix: String) -> String {
        serial += 1
        var line = "\(prefix)\(serial)"
        for _ in 0..<choices.below(7) { line += " " + choices.pick(Self.words) }
        return line
    }

    /// The line coloured the way renderers colour output.
    mutating func coloured(_ line: String) -> String {
        switch choices.below(4) {
        case 0: return "\u{1B}[1m" + line + "\u{1B}[0m"
        case 1: return "\u{1B}[38;5;\(choices.below(256))m" + line + "\u{1B}[39m"
        case 2: return "\u{1B}[2m\u{1B}[38;2;1;2;3m" + line + "\u{1B}[m"
        default: return line
        }
    }

    mutating func plainLine(_ prefix: String) {
        let line = text(prefix)
        write(coloured(line) + "\r\n")
        stream.kept.append(line)
    }

    // MARK: Codex

    /// Codex's inline viewport: history goes above the viewport through a
    /// scroll region (insert_history.rs); the viewport is diffed and
    /// repainted with absolute moves; it grows by scrolling the region above
    /// it up.
    mutating func inlineViewport(steps: Int) {
        let banner = 1 + choices.below(4)
        for _ in 0..<banner { plainLine("$ codex ") }
        var top = banner  // 0-based row of the viewport's top
        var height = 3 + choices.below(4)
        var shown: [String] = Array(repeating: "", count: height)
        var composer = ""
        var elapsed = 0

        func viewport(_ height: Int, _ composer: String, _ elapsed: Int, _ spin: Int) -> [String] {
            var lines = ["• Working (\(elapsed)s • esc to interrupt) " + String(repeating: ".", count: spin % 4)]
            while lines.count < height - 2 { lines.append("  └ running step \(elapsed / 3)") }
            lines.append("› " + composer)
            lines.append("  ⏎ send   ⌃J newline   ⌃C quit")
            return lines
        }

        var spin = 0
        for _ in 0..<steps {
            switch choices.below(10) {
            case 0..<4:
                insertHistory(top: &top, height: height)
                shown = Array(repeating: "", count: height)
                if top + height > rows { top = rows - height }
            case 4..<6:
                composer += choices.pick(["a", "b", " ", "fix", "é", "日"])
                if composer.count > 60 { composer = "" }
            case 6:
                // The viewport grows or shrinks: at the bottom of the screen
                // it grows by scrolling everything above it up.
                let next = 3 + choices.below(6)
                if top + next > rows {
                    let by = top + next - rows
                    csi("1;\(top)r")
                    if choices.chance(50) {
                        csi("\(by)S")
                    } else {
                        csi("\(top);1H")
                        write(String(repeating: "\n", count: by))
                    }
                    csi("r")
                    top -= by
                }
                csi("\(top + 1);1H")
                csi("J")
                height = next
                shown = Array(repeating: "", count: height)
            default:
                elapsed += 1
                spin += 1
            }
            paint(viewport(height, composer, elapsed, spin), top: top, shown: &shown)
            csi("\(top + height - 1);\(3 + composer.count)H")
        }
        if choices.chance(30) {
            // Quitting: the viewport is cleared and a summary printed there.
            csi("\(top + 1);1H")
            csi("J")
            plainLine("Token usage: total=")
        } else {
            stream.kept += shown.filter { !$0.isEmpty }.map(trimmed)
            stream.liveLines = shown.filter { !$0.isEmpty }.count
        }
    }

    /// ratatui's diff: rows that changed are repainted from the first
    /// changed column, then erased to their end.
    mutating func paint(_ lines: [String], top: Int, shown: inout [String]) {
        for (index, line) in lines.enumerated() where shown[index] != line {
            let old = Array(shown[index])
            let new = Array(line)
            var same = 0
            while same < min(old.count, new.count) && old[same] == new[same] && new[same].isASCII { same += 1 }
            csi("\(top + index + 1);\(same + 1)H")
            write(String(new[same...]))
            csi("K")
            shown[index] = line
        }
    }

    mutating func insertHistory(top: inout Int, height: Int) {
        var lines: [String] = []
        for _ in 0...choices.below(5) { lines.append(text(choices.pick(["• Ran ", "  └ ", "codex ", "> "]))) }
        let cursorTop: Int
        if top + height < rows {
            let amount = min(lines.count, rows - (top + height))
            csi("\(top + 1);\(rows)r")
            csi("\(top + 1);1H")
            for _ in 0..<amount { write("\u{1B}M") }
            csi("r")
            cursorTop = top - 1
            top += amount
        } else {
            cursorTop = top - 1
        }
        csi("1;\(top)r")
        csi("\(cursorTop + 1);1H")
        for line in lines {
            write("\r\n")
            csi("K")
            write(coloured(line))
        }
        csi("r")
        stream.kept += lines
    }

    // MARK: ink

    /// ink's log-update: every frame starts by erasing the previous one
    /// (`ESC[2K` and `ESC[1A` per line, then `ESC[G`); static output is
    /// written where the frame was, and the frame drawn again below it.
    mutating func ink(steps: Int) {
        var previousLineCount = 0
        var frame: [String] = []
        var elapsed = 0
        var input = ""

        func eraseLines(_ count: Int) -> String {
            var clear = ""
            for index in 0..<count {
                clear += "\u{1B}[2K" + (index < count - 1 ? "\u{1B}[1A" : "")
            }
            return count > 0 ? clear + "\u{1B}[G" : ""
        }

        for _ in 0..<steps {
            switch choices.below(10) {
            case 0..<3:
                var staticLines: [String] = []
                for _ in 0...choices.below(4) { staticLines.append(text(choices.pick(["⏺ ", "  ⎿ ", "> "]))) }
                write(eraseLines(previousLineCount))
                for line in staticLines { write(coloured(line) + "\n") }
                stream.kept += staticLines
                previousLineCount = 0
                if !frame.isEmpty {
                    let output = frame.joined(separator: "\n") + "\n"
                    write(output)
                    previousLineCount = frame.count + 1
                }
                continue
            case 3..<5:
                input += choices.pick(["h", "i", " ", "ok", "ü"])
                if input.count > 50 { input = "" }
            default:
                elapsed += 1
            }
            let width = 40 + choices.below(40)
            var next = ["✻ Thinking… (\(elapsed)s · esc to interrupt)"]
            if choices.chance(30) { next.append("  ⎿  Tip: \(elapsed % 7)") }
            next.append("╭" + String(repeating: "─", count: width) + "╮")
            next.append("│ > " + input + String(repeating: " ", count: max(0, width - 3 - input.count)) + "│")
            next.append("╰" + String(repeating: "─", count: width) + "╯")
            if next == frame { continue }
            frame = next
            write(eraseLines(previousLineCount) + frame.joined(separator: "\n") + "\n")
            previousLineCount = frame.count + 1
        }
        stream.kept += frame.map(trimmed)
        stream.liveLines = frame.count
    }

    // MARK: Spinners

    /// Output lines between `\r` spinners and progress bars, which end
    /// erased, or in a final frame that stays as a line.
    mutating func spinner(steps: Int) {
        let frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", "|", "/", "-", "\\"]
        for _ in 0..<steps {
            switch choices.below(4) {
            case 0, 1:
                plainLine(choices.pick(["", "  ", "Compiling ", "info: "]))
            case 2:
                let label = text("Fetching ")
                var widest = 0
                for tick in 0..<(2 + choices.below(30)) {
                    let frame = frames[(tick + serial) % frames.count] + " " + label
                    write("\r" + coloured(frame) + " \(tick)s")
                    widest = max(widest, columnsTaken(frame) + " \(tick)s".count)
                    if choices.chance(20) { csi("K") }
                }
                switch choices.below(3) {
                case 0:
                    write("\r")
                    csi("2K")
                case 1:
                    write("\r" + String(repeating: " ", count: widest) + "\r")
                default:
                    let done = text("✓ fetched ")
                    write("\r" + done)
                    csi("K")
                    write("\r\n")
                    stream.kept.append(done)
                }
            default:
                let label = text("Downloading ")
                var percent = 0
                while percent < 100 {
                    percent = min(100, percent + 1 + choices.below(30))
                    let bar = String(repeating: "#", count: percent / 5) + String(repeating: " ", count: 20 - percent / 5)
                    write("\r\(label) [\(bar)] \(percent)%")
                    if choices.chance(30) {
                        // Backspaced over, the way some progress meters update.
                        write(String(repeating: "\u{8}", count: "\(percent)%".count) + "\(percent)%")
                    }
                }
                write("\r\n")
                stream.kept.append(label + " [" + String(repeating: "#", count: 20) + "] 100%")
            }
        }
    }

    // MARK: Bottom status

    /// A status line on the bottom row, outside a scroll region holding the
    /// output (apt's progress bar): the output scrolls above it.
    mutating func bottomStatus(steps: Int) {
        write("\n")
        write("\u{1B}7")
        csi("0;\(rows - 1)r")
        write("\u{1B}8")
        csi("1A")
        var status = ""
        for step in 0..<steps {
            if choices.chance(60) {
                plainLine(choices.pick(["Unpacking ", "Setting up ", "Selecting "]))
            }
            status = "Progress: [\(step * 100 / max(steps, 1))%]"
            write("\u{1B}7")
            csi("\(rows);0f")
            write(status)
            csi("K")
            write("\u{1B}8")
        }
        stream.kept.append(status)
        stream.liveLines = 1
    }
}

/// Terminal columns of a generated line: its only wide characters are CJK.
private func columnsTaken(_ line: String) -> Int {
    line.unicodeScalars.reduce(0) { $0 + ((0x3000...0x9FFF).contains($1.value) ? 2 : 1) }
}

private func trimmed(_ line: String) -> String {
    var scalars = Array(line.unicodeScalars)
    while let last = scalars.last, last == " " { scalars.removeLast() }
    var result = ""
    result.unicodeScalars.append(contentsOf: scalars)
    return result
}

/// Whether `expected` appears in `lines` in order, each line matched once;
/// on failure, the first line that could not be found after the previous match.
func firstMissing(_ expected: [String], in lines: [String]) -> (index: Int, line: String)? {
    var position = lines.startIndex
    for (index, line) in expected.enumerated() {
        guard let found = lines[position...].firstIndex(of: line) else { return (index, line) }
        position = found + 1
    }
    return nil
}

/// Whether a transcript written with idle flushes keeps `expected`: in
/// order, except its last `live` lines (a block redrawn in place), which may
/// have been written before other lines were inserted above them and not
/// again, since they did not change: out of place, but not lost.
func firstLost(_ expected: [String], live: Int, in lines: [String]) -> (index: Int, line: String)? {
    let ordered = Array(expected.dropLast(live))
    if let missing = firstMissing(ordered, in: lines) { return missing }
    for (offset, line) in expected.suffix(live).enumerated() where !lines.contains(line) {
        return (ordered.count + offset, line)
    }
    return nil
}

/// A transcript's lines that hold text, with trailing blanks trimmed.
func textLines(_ transcript: [UInt8]) -> [String] {
    String(decoding: transcript, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        .map { trimmed(String($0)) }.filter { !$0.isEmpty }
}
