// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// The executables run once per pane (the shim, the pane-log hook) are linked fully static in
// release builds: no dynamic loader and no relocations to process, so they start in about
// 1 ms instead of 2-3 ms (docs/benchmarks.md).
let fullyStatic: [LinkerSetting] = [.unsafeFlags(["-static-executable"], .when(configuration: .release))]

let package = Package(
    name: "mcrun",
    products: [
        .executable(name: "mcrun", targets: ["mcrun"]),
        .executable(name: "mcrun-pane-log", targets: ["mcrun-pane-log"]),
        .executable(name: "mcrun-shim", targets: ["mcrun-shim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // Linux syscalls Swift cannot call directly (variadic syscall(2), prctl(2)).
        .target(name: "CLinux"),
        // libsystemd: sd_notify and the journal.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),

        // The pane-log filter: pure Swift, no Foundation, so the per-pane hook stays tiny.
        .target(name: "PaneLogFilter", swiftSettings: strict),
        .executableTarget(name: "mcrun-pane-log", dependencies: ["PaneLogFilter"], swiftSettings: strict, linkerSettings: fullyStatic),

        // The launch shim and its handshake with the launcher: pure Swift, no Foundation, no
        // SQLite, so the process that runs between the tmux call and the agent starts at once.
        .target(name: "LaunchHandshake", dependencies: ["CLinux"], swiftSettings: strict),
        .executableTarget(name: "mcrun-shim", dependencies: ["LaunchHandshake", "CLinux"], swiftSettings: strict, linkerSettings: fullyStatic),

        // The domain: identity, ledger, tmux, launching and stopping runtimes.
        .target(
            name: "MCRunCore",
            dependencies: [
                "CLinux", "LaunchHandshake",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // The supervisor: reaper, reconcile, retry policy, systemd integration, event hooks.
        .target(
            name: "MCRunService",
            dependencies: [
                "MCRunCore", "CLinux", "CSystemd",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        // `mcrun --version`: the build's git describe, generated before every build.
        .plugin(name: "VersionPlugin", capability: .buildTool()),
        // Every subcommand, in a library so tests can call it.
        .target(
            name: "MCRunCLI",
            dependencies: [
                "MCRunCore", "MCRunService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict,
            plugins: ["VersionPlugin"]),
        .executableTarget(name: "mcrun", dependencies: ["MCRunCLI"], swiftSettings: strict),

        .target(name: "MCRunTestSupport", dependencies: ["MCRunCore"], path: "Tests/MCRunTestSupport", swiftSettings: strict),
        .testTarget(name: "PaneLogFilterTests", dependencies: ["PaneLogFilter"], resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(name: "MCRunCoreTests", dependencies: ["MCRunCore", "MCRunTestSupport"], swiftSettings: strict),
        .testTarget(name: "MCRunCLITests", dependencies: ["MCRunCLI", "MCRunCore", "MCRunTestSupport", "LaunchHandshake"], swiftSettings: strict),
        .testTarget(
            name: "MCRunServiceTests",
            dependencies: ["MCRunService", "MCRunCore", "MCRunTestSupport"],
            swiftSettings: strict),
    ]
)
