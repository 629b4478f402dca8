import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

/// `mcrun doctor` where systemd runs the shipped units: the units as systemd loaded them,
/// enabled or not, and serve's STATUS= as systemd holds it.
@Suite(
    .serialized,
    .timeLimit(.minutes(3)),
    .needsSystemdNamespace)
struct DoctorUnderSystemdTests {
    static let package = URL(fileURLWithPath: Scratch.packageRoot)

    /// The binaries and hooks under test, copied into the namespace's /run (whatever
    /// directory the checkout is in, these are visible inside).
    static func install(_ ns: SystemdNamespace) throws -> String {
        let dir = "/run/mcrun-doctor"
        try FileManager.default.createDirectory(atPath: ns.hostPath(dir), withIntermediateDirectories: true)
        for name in ["mcrun", "mcrun-pane-log", "mcrun-shim"] {
            try FileManager.default.copyItem(atPath: Scratch.binDirectory + "/" + name, toPath: ns.hostPath(dir + "/" + name))
        }
        try FileManager.default.copyItem(atPath: package.appendingPathComponent("hooks").path, toPath: ns.hostPath(dir + "/hooks"))
        return dir
    }

    func checks(_ output: String) throws -> [String: JSONValue] {
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(output.utf8))
        return Dictionary((json.at("checks")?.arrayValue ?? []).map { ($0.at("name")?.stringValue ?? "?", $0) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func theEnabledUnitsAndServesStatusAreCleanAndADisabledUnitWarns() async throws {
        try await SystemdNamespace.withBooted(overlaid: ["/etc"]) { ns in
            // The shipped units run as the mcrun user.
            try await ns.createServiceUser()
            let dir = try Self.install(ns)
            for name in ["mcrun.service", "mcrun-tmux.service"] {
                let unit = try String(contentsOf: Self.package.appendingPathComponent("units/" + name), encoding: .utf8)
                try await ns.install(unit: unit, name: name)
            }
            try await ns.install(
                dropIn: "[Service]\nExecStart=\nExecStart=\(dir)/mcrun serve --reconcile-interval 1s\nEnvironment=MCRUN_HOOKS_DIR=\(dir)/hooks\n",
                for: "mcrun.service")
            try await ns.systemctl("enable", "--runtime", "mcrun-tmux.service", "mcrun.service")
            try await ns.systemctl("start", "mcrun-tmux.service", "mcrun.service")
            try await ns.waitFor("mcrun.service", toHave: ["ActiveState": "active", "SubState": "running"])
            let mcrun = ["env", "MCRUN_HOOKS_DIR=\(dir)/hooks", "\(dir)/mcrun"]
            let started = try await ns.run(mcrun + ["start", "--state-dir", "/var/lib/mcrun", "D1", "--", "/bin/sleep", "600"])
            try #require(started.succeeded, "\(started)")
            try await ns.waitFor("STATUS= to count the agent") {
                try await ns.show("mcrun.service", ["StatusText"])["StatusText"]?.hasPrefix("1 live") == true
            }

            let clean = try await ns.run(mcrun + ["doctor", "--state-dir", "/var/lib/mcrun", "--json"])
            #expect(clean.succeeded, "\(clean)")
            let found = try checks(clean.standardOutput)
            for (name, check) in found { #expect(check.at("status")?.stringValue != "fail", "\(name): \(check)") }
            for unit in ["mcrun.service", "mcrun-tmux.service"] {
                #expect(found[unit]?.at("status")?.stringValue == "ok", "\(String(describing: found[unit]))")
                #expect(found[unit]?.at("detail")?.stringValue?.hasSuffix("enabled-runtime") == true, "\(String(describing: found[unit]))")
            }
            let serve = try #require(found["serve"])
            #expect(serve.at("status")?.stringValue == "ok")
            // systemd's StatusText, as `systemctl show` gives it.
            #expect(serve.at("detail")?.stringValue?.contains("1 live, 0 busy, 0 escalated") == true, "\(serve)")
            #expect(found["pane-log hook"]?.at("status")?.stringValue == "ok")
            // Seen from the tmux server: the unit's delegated subtree.
            let cgroups = try #require(found["runtime cgroups"])
            #expect(cgroups.at("status")?.stringValue == "ok", "\(cgroups)")
            #expect(cgroups.at("detail")?.stringValue?.contains("/system.slice/mcrun-tmux.service") == true, "\(cgroups)")

            try await ns.systemctl("disable", "--runtime", "mcrun.service")
            let disabled = try await ns.run(mcrun + ["doctor", "--state-dir", "/var/lib/mcrun", "--json"])
            #expect(disabled.succeeded, "a disabled unit is a warning: \(disabled)")
            let unit = try checks(disabled.standardOutput)["mcrun.service"]
            #expect(unit?.at("status")?.stringValue == "warn", "\(String(describing: unit))")
            #expect(unit?.at("fix")?.stringValue == "systemctl enable --now mcrun.service")
        }
    }
}
