import Glibc
import MCRunCore

/// The command line as the kernel passed it. `CommandLine.arguments` decodes each argument
/// as UTF-8 and replaces invalid bytes with U+FFFD; a message given as an argument must
/// reach the pane byte for byte, so `send` takes its bytes from here.
enum RawArguments {
    static var all: [[UInt8]] {
        (1..<Int(CommandLine.argc)).compactMap { i in
            CommandLine.unsafeArgv[i].map { pointer in
                Array(UnsafeBufferPointer(start: pointer, count: strlen(pointer))).map { UInt8(bitPattern: $0) }
            }
        }
    }

    /// The original bytes of the argument that was decoded into `decoded`. Two arguments
    /// that decode alike but differ in their bytes leave no way to tell which one is meant:
    /// refused rather than guessed. Called in-process (no such argument in argv), the
    /// string's own bytes.
    static func original(of decoded: String) throws(MCRunError) -> [UInt8] {
        let candidates = Set(all.filter { String(decoding: $0, as: UTF8.self) == decoded })
        guard candidates.count <= 1 else {
            throw .badInput(
                "ambiguous_argument", "two arguments decode to the same text but differ in their bytes; pass the message on stdin with - or with --file")
        }
        return candidates.first ?? Array(decoded.utf8)
    }
}
