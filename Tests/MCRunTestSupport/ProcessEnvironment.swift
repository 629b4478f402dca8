#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Runs `body` with environment variables set (or, for nil, unset) and restores the previous
/// values afterwards, also when it throws. The environment belongs to the whole process:
/// use this only in `.serialized` suites, for code that reads variables itself (libsystemd
/// reads `$NOTIFY_SOCKET` on every call).
public func withEnvironment<T>(_ changes: [String: String?], _ body: () async throws -> T) async rethrows -> T {
    var saved: [String: String?] = [:]
    for (name, value) in changes {
        saved[name] = getenv(name).map { String(cString: $0) }
        set(name, value)
    }
    defer {
        for (name, value) in saved {
            set(name, value)
        }
    }
    return try await body()
}

private func set(_ name: String, _ value: String?) {
    if let value {
        setenv(name, value, 1)
    } else {
        unsetenv(name)
    }
}
