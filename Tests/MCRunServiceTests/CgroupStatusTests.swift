import Foundation
import MCRunCore
import MCRunTestSupport
import Testing

/// serve's STATUS (as the heartbeat keeps it for doctor) says when live runtimes run without
/// a cgroup, and why: their leftovers are then found by searching /proc.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct CgroupStatusTests {
    @Test func statusSaysWhichRuntimesRunWithoutACgroupAndWhy() throws {
        let s = try Scratch(name: "cgroup-status")
        defer { s.cleanup() }
        let plain = s.path("plain")
        try FileManager.default.createDirectory(atPath: plain, withIntermediateDirectories: true)
        try #require(try s.mcrun(["config", "cgroup-root", plain]).status == 0)
        let serve = try ServeProcess(s, arguments: ["--reconcile-interval", "300ms"])
        try serve.waitUntilReady()
        try #require(try s.mcrun(["start", "S1", "--", "sleep", "1000"]).status == 0)
        var detail = ""
        try waitUntil("serve's status to count the runtime", timeout: 10) {
            let (_, json) = try s.mcrunJSON(["doctor"])
            detail = json.at("checks")?.arrayValue?.first { $0.at("name")?.stringValue == "serve" }?.at("detail")?.stringValue ?? ""
            return detail.contains("1 live")
        }
        #expect(detail.contains("1 without a cgroup (cgroup-root \(plain): not a cgroup2 directory)"), "\(detail)")
        #expect(detail.contains("searching /proc"), "\(detail)")
    }
}
