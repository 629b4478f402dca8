import ArgumentParser

/// A duration given as `10s`, `500ms`, `2m` or a bare number of seconds.
struct DurationArgument: ExpressibleByArgument, Sendable {
    var milliseconds: Int

    init(milliseconds: Int) { self.milliseconds = milliseconds }

    init?(argument: String) {
        let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, scale) in units where argument.hasSuffix(suffix) {
            guard let value = Double(argument.dropLast(suffix.count)), value >= 0, value.isFinite else { return nil }
            milliseconds = Int(value * scale)
            return
        }
        guard let seconds = Double(argument), seconds >= 0, seconds.isFinite else { return nil }
        milliseconds = Int(seconds * 1000)
    }

    var defaultValueDescription: String {
        milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms"
    }
}
