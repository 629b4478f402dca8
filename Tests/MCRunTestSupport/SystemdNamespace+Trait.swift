public import Testing

extension Trait where Self == ConditionTrait {
    /// For suites that boot a real systemd in a namespace: they run where the machine can
    /// (root, unshare), always under `CI=true` (where they fail with the reason rather than
    /// skip), and elsewhere are skipped with the reason in the test output.
    public static var needsSystemdNamespace: Self {
        .enabled(
            if: SystemdNamespace.shouldRun,
            Comment(rawValue: "SKIPPED LOUDLY: needs root and a real systemd in a namespace: \(SystemdNamespace.unavailableReason ?? "")"))
    }
}
