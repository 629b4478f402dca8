/// The one error type every command reports. Its `code` fixes the exit status and the
/// HTTP-like code in `--json` output; `reason` is the stable machine word a dispatcher
/// branches on; `message` is the one line a person reads.
public struct MCRunError: Error, CustomStringConvertible, Sendable {
    public enum Code: Int32, Sendable, CaseIterable {
        case internalError = 1
        case badInput = 2
        case notFound = 3
        case busy = 4
        case refused = 5
        case declined = 6
        /// The action was carried out (an agent stopped, the kill switch held) but the ledger
        /// could not record it; it is kept in the state directory's reserve and recorded as
        /// soon as the ledger can be written. Exit 7 is `doctor`'s own.
        case unrecorded = 8

        public var exitCode: Int32 { rawValue }

        public var httpStatus: Int {
            switch self {
            case .internalError: 500
            case .badInput: 400
            case .notFound: 404
            case .busy: 409
            case .refused: 403
            case .declined: 412
            case .unrecorded: 207
            }
        }
    }

    public var code: Code
    public var reason: String
    public var message: String
    /// The runtime the error is about, e.g. the winner of a 409.
    public var runtime: Runtime?
    public var cause: String?
    /// Structured facts behind the refusal (e.g. the breaker's evidence), printed as `detail` by `--json`.
    public var detail: JSONValue?

    public init(_ code: Code, _ reason: String, _ message: String, runtime: Runtime? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.runtime = runtime
        self.cause = cause.map { String(describing: $0) }
    }

    public var description: String {
        if let cause { return "\(message) (\(cause))" }
        return message
    }

    public static func internalError(_ message: String, cause: (any Error)? = nil) -> MCRunError {
        MCRunError(.internalError, "internal", message, cause: cause)
    }

    public static func badInput(_ reason: String, _ message: String) -> MCRunError {
        MCRunError(.badInput, reason, message)
    }
}
