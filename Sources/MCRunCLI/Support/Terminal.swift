import Glibc
import MCRunCore

enum Terminal {
    /// The width tables must fit: `$COLUMNS` when set, else the terminal's on stdout; nil
    /// when stdout is not a terminal (a pipe or file gets every column).
    static func columns(environment: [String: String] = MCRunContext.processEnvironment()) -> Int? {
        if let raw = environment["COLUMNS"], let n = Int(raw), n > 0 { return n }
        guard isatty(1) == 1 else { return nil }
        var size = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }
}
