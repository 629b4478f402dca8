/// `mcrun-pane-log [--max-bytes N] [--keep K] [--raw] LOGFILE`
struct PaneLogArguments {
    static let usage = "usage: mcrun-pane-log [--max-bytes N] [--keep K] [--raw] LOGFILE"

    var maxBytes = 8 << 20
    var keep = 2
    var raw = false
    var logPath = ""

    enum Parsed {
        case valid(PaneLogArguments)
        case invalid(String)
        case help
    }

    static func parse(_ words: [String]) -> Parsed {
        var result = PaneLogArguments()
        var paths: [String] = []
        var index = 0
        var optionsEnded = false
        while index < words.count {
            let word = words[index]
            index += 1
            if optionsEnded || !word.hasPrefix("-") || word == "-" {
                paths.append(word)
                continue
            }
            var name = word
            var inlineValue: String?
            if let equals = word.firstIndex(of: "=") {
                name = String(word[..<equals])
                inlineValue = String(word[word.index(after: equals)...])
            }
            func value() -> String? {
                if let inlineValue { return inlineValue }
                guard index < words.count else { return nil }
                index += 1
                return words[index - 1]
            }
            switch name {
            case "--":
                optionsEnded = true
            case "-h", "--help":
                return .help
            case "--raw" where inlineValue == nil:
                result.raw = true
            case "--max-bytes":
                guard let text = value(), let bytes = parseSize(text), bytes >= 1 else {
                    return .invalid("--max-bytes needs a size of at least 1 byte, like 8388608 or 8M")
                }
                result.maxBytes = bytes
            case "--keep":
                guard let text = value(), let keep = Int(text), (0...99).contains(keep) else {
                    return .invalid("--keep needs a number of rotated files from 0 to 99")
                }
                result.keep = keep
            default:
                return .invalid("unknown option \(word)")
            }
        }
        guard paths.count == 1, let path = paths.first, !path.isEmpty else {
            return .invalid(paths.isEmpty ? "LOGFILE is missing" : "exactly one LOGFILE is expected")
        }
        result.logPath = path
        return .valid(result)
    }

    /// A byte count, optionally with a binary suffix: 512K, 8M, 1G.
    static func parseSize(_ text: String) -> Int? {
        var digits = Substring(text)
        var unit = 1
        switch digits.last {
        case "k", "K": unit = 1 << 10
        case "m", "M": unit = 1 << 20
        case "g", "G": unit = 1 << 30
        default: break
        }
        if unit > 1 { digits = digits.dropLast() }
        guard let count = Int(digits), count >= 0 else { return nil }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: unit)
        return overflow ? nil : bytes
    }
}
