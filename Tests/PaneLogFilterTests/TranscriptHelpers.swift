import PaneLogFilter
import Testing

/// Feeds `bytes` in chunks of `size` (the last one shorter), then ends the stream.
func transcript(of bytes: [UInt8], chunkSize size: Int, options: PaneLogFilter.Options = .init()) -> [UInt8] {
    var filter = PaneLogFilter(options: options)
    var start = 0
    while start < bytes.count {
        let end = min(bytes.count, start + size)
        bytes[start..<end].withUnsafeBytes { filter.feed($0) }
        start = end
    }
    filter.finish()
    return filter.takeOutput()
}

/// The transcript of `input`, checked to be the same however the stream is
/// cut: whole, byte by byte, and in chunks of 2, 3 and 5 bytes.
func clean(
    _ input: String,
    options: PaneLogFilter.Options = .init(),
    sourceLocation: SourceLocation = #_sourceLocation
) -> String {
    let bytes = Array(input.utf8)
    let whole = transcript(of: bytes, chunkSize: max(bytes.count, 1), options: options)
    for size in [1, 2, 3, 5] {
        let chunked = transcript(of: bytes, chunkSize: size, options: options)
        #expect(
            chunked == whole, "chunks of \(size) bytes gave a different transcript", sourceLocation: sourceLocation)
    }
    return String(decoding: whole, as: UTF8.self)
}

/// A filter driven step by step, for idle flushes and settled commits.
struct Stepper {
    var filter: PaneLogFilter

    init(options: PaneLogFilter.Options = .init()) {
        filter = PaneLogFilter(options: options)
    }

    mutating func feed(_ text: String) { filter.feed(Array(text.utf8)) }

    /// What was written since the last call.
    mutating func written() -> String { String(decoding: filter.takeOutput(), as: UTF8.self) }
}
