import Foundation
import Glibc
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

/// Outside systemd, as root: serve tears down a death by killing the runtime's cgroup, and
/// its silent relaunch gets a cgroup of its own with the same limits, in the kernel.
@Suite(.serialized, .timeLimit(.minutes(1)), .needsWritableCgroups)
struct CgroupRelaunchTests {
    @Test func aRelaunchGetsItsOwnCgroupWithTheSameLimits() throws {
        let s = try Scratch(name: "cgroup-relaunch")
        defer { s.cleanup() }
        let serve = try ServeProcess(s, arguments: ["--reconcile-interval", "300ms", "--retry-delay", "100ms"])
        try serve.waitUntilReady()
        let once = s.path("once")
        let orphanFile = s.path("orphan.pid")
        let agent = try s.script(
            "dies-once",
            """
            #!/bin/sh
            if [ ! -e \(once) ]; then
              touch \(once)
              setsid env -i /bin/sh -c 'echo $$ > \(orphanFile); exec sleep 3012' &
              while [ ! -s \(orphanFile) ]; do :; done
              exit 3
            fi
            exec sleep 600
            """)
        try #require(try s.mcrun(["start", "L1", "--memory-max", "80M", "--pids-max", "40", "--", agent]).status == 0)
        var second: Runtime?
        try waitUntil("serve to relaunch L1", timeout: 15) {
            second = try s.context().ledger.runtime(ticket: "L1", episode: 2)
            return second?.state == .running
        }
        let first = try #require(try s.context().ledger.runtime(ticket: "L1", episode: 1))
        let orphan = try #require(Int32((try String(contentsOfFile: orphanFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        try waitUntil("the first episode's teardown", timeout: 10) { try s.context().ledger.runtime(ticket: "L1", episode: 1)?.teardownOwed == false }
        #expect(!isAlive(orphan), "the first episode's orphan \(orphan) survived its death")
        let firstCgroup = try #require(first.cgroup)
        #expect(access(firstCgroup.path, F_OK) != 0, "\(firstCgroup.path) was not removed")
        let relaunched = try #require(second)
        #expect(relaunched.limits == ResourceLimits(memoryMax: 80 << 20, pidsMax: 40))
        let cgroup = try #require(relaunched.cgroup)
        #expect(cgroup.path.hasSuffix("/runtime-L1-2"))
        let memoryFile = cgroup.enforced["memory"] == "cgroup2" ? cgroup.path + "/memory.max" : (cgroup.v1["memory"] ?? "-") + "/memory.limit_in_bytes"
        #expect(try String(contentsOfFile: memoryFile, encoding: .utf8).hasPrefix(String(80 << 20)), "\(memoryFile)")
        let pidsFile = cgroup.enforced["pids"] == "cgroup2" ? cgroup.path + "/pids.max" : (cgroup.v1["pids"] ?? "-") + "/pids.max"
        #expect(try String(contentsOfFile: pidsFile, encoding: .utf8).hasPrefix("40"), "\(pidsFile)")
    }
}
