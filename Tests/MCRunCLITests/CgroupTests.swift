import Foundation
import Glibc
import MCRunCore
import MCRunTestSupport
import Testing

extension Scratch {
    /// Waits for the files an agent's script writes (PIDs of what it started).
    func pids(_ names: [String]) throws -> [Int32] {
        var found: [Int32] = []
        try waitUntil("the agent's processes to write \(names)", timeout: 10) {
            found = names.compactMap { name in
                (try? String(contentsOfFile: path(name), encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            }
            return found.count == names.count
        }
        return found
    }

    func lastEvent(_ kind: String, ticket: String) throws -> JSONValue? {
        let events = try mcrun(["events", "--ticket", ticket]).stdoutText.split(separator: "\n")
        return events.compactMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }.last { $0["kind"]?.stringValue == kind }
    }
}

/// An agent that escapes its session and environment: a `setsid env -i` grandchild (no
/// session, no nonce), a double-forked daemon, and a process that ignores SIGTERM and SIGHUP.
/// Each writes its PID to a file in `directory`.
func escapingAgent(_ s: Scratch) throws -> String {
    try s.script(
        "escaper",
        """
        #!/bin/sh
        setsid env -i /bin/sh -c 'echo $$ > \(s.path("setsid.pid")); exec sleep 3003' &
        /bin/sh -c '/bin/sh -c "echo \\$\\$ > \(s.path("daemon.pid")); exec sleep 3004" & exit 0' &
        /bin/sh -c 'trap "" TERM HUP; echo $$ > \(s.path("stubborn.pid")); while :; do sleep 1; done' &
        exec sleep 3000
        """)
}

/// One cgroup per runtime, outside systemd: the shim joins it before the exec, stop kills it
/// whole, limits apply to it, and out of memory is the recorded cause.
@Suite(.serialized, .timeLimit(.minutes(2)), .needsWritableCgroups)
struct CgroupTests {
    @Test func stopLeavesNothingTheAgentStartedByAnyMeans() throws {
        let s = try Scratch(name: "cgroup-stop")
        defer { s.cleanup() }
        let json = try s.startJSON("T1", [try escapingAgent(s)])
        let cgroup = try #require(json.at("runtime.cgroup")?.stringValue, "no cgroup recorded: \(json)")
        #expect(cgroup.hasSuffix("/runtime-T1-1"))
        let escapees = try s.pids(["setsid.pid", "daemon.pid", "stubborn.pid"])
        let members = Set((try String(contentsOfFile: cgroup + "/cgroup.procs", encoding: .utf8)).split(separator: "\n").compactMap { Int32($0) })
        for pid in escapees { #expect(members.contains(pid), "pid \(pid) is not in the runtime's cgroup \(members)") }
        // The setsid grandchild carries no nonce and leads its own session: only the cgroup finds it.
        let stop = try s.mcrunJSON(["stop", "T1", "--grace", "500ms"])
        #expect(stop.result.status == 0, "\(stop.result.stderrText)")
        for pid in escapees { #expect(!processExists(pid), "pid \(pid) survived the stop") }
        #expect(access(cgroup, F_OK) != 0, "the runtime's cgroup \(cgroup) was not removed")
        let teardown = try #require(try s.lastEvent("teardown", ticket: "T1"))
        #expect(teardown.at("data.leftovers_by")?.stringValue == "cgroup")
        #expect((teardown.at("data.leftovers_killed")?.intValue ?? 0) >= 1)
    }

    @Test func aStopTheLedgerCannotRecordStillKillsTheWholeCgroup() throws {
        let s = try Scratch(name: "cgroup-unrecorded")
        defer { s.cleanup() }
        let json = try s.startJSON("T7", [try escapingAgent(s)])
        let cgroup = try #require(json.at("runtime.cgroup")?.stringValue)
        let escapees = try s.pids(["setsid.pid", "daemon.pid", "stubborn.pid"])
        let frozen = [s.stateDir + "/ledger.sqlite", s.stateDir]
        s.onCleanup { _ = try? Subprocess.run(["chattr", "-i"] + frozen) }
        try #require(try Subprocess.run(["chattr", "+i"] + frozen).succeeded)
        let stop = try s.mcrun(["stop", "T7", "--grace", "500ms", "--json"])
        #expect(stop.status == 8, "\(stop.stderrText)")
        for pid in escapees { #expect(!processExists(pid), "pid \(pid) survived a stop the ledger could not record") }
        #expect(access(cgroup, F_OK) != 0)
    }

    @Test func aDeathKillsWhatTheAgentLeftInItsCgroup() throws {
        let s = try Scratch(name: "cgroup-death")
        defer { s.cleanup() }
        let agent = try s.script(
            "dies",
            """
            #!/bin/sh
            setsid env -i /bin/sh -c 'echo $$ > \(s.path("orphan.pid")); exec sleep 3006' &
            while [ ! -s \(s.path("orphan.pid")) ]; do :; done
            exit 3
            """)
        let json = try s.startJSON("T2", [agent])
        let cgroup = try #require(json.at("runtime.cgroup")?.stringValue)
        let orphan = try s.pids(["orphan.pid"])[0]
        let agentPID = Int32(try #require(json.at("runtime.pid")?.intValue))
        try waitUntil("the agent to exit", timeout: 10) { !processExists(agentPID) }
        // Any writing command reaps the death first; stop then finds the runtime ended.
        _ = try s.mcrun(["stop", "T2", "--grace", "0"])
        #expect(!processExists(orphan), "the orphan \(orphan) survived its agent's death")
        #expect(access(cgroup, F_OK) != 0)
        let entry = try #require(try s.psEntry("T2"))
        #expect(entry["state"]?.stringValue == "dead")
        #expect(entry["leftovers_killed"]?.intValue == 1)
    }

    @Test func anAgentOverItsMemoryLimitEndsWithOutOfMemoryAsItsCause() throws {
        let s = try Scratch(name: "cgroup-oom")
        defer { s.cleanup() }
        let json = try s.startJSON(
            "T3", ["/usr/bin/python3", "-c", "import time; b = bytearray(256 << 20); time.sleep(60)"], extra: ["--memory-max", "64M"])
        #expect(json.at("runtime.limits.memory_max.value")?.intValue == 64 << 20)
        let agentPID = Int32(try #require(json.at("runtime.pid")?.intValue))
        try waitUntil("the OOM killer to end the agent", timeout: 15) { !processExists(agentPID) }
        _ = try s.mcrun(["stop", "T3", "--grace", "0"])
        let harvest = try s.mcrunJSON(["harvest", "T3"]).json
        let record = try #require(harvest.at("record"), "\(harvest)")
        #expect(record["root_cause"]?.stringValue == "out_of_memory", "\(record)")
        #expect(record["safe_retry"]?.boolValue == false)
        let summary = record["summary"]?.stringValue ?? ""
        #expect(summary.contains("memory-max 64M"), "\(summary)")
        #expect(summary.contains("peak"), "\(summary)")
        #expect(summary.contains("higher memory limit"), "\(summary)")
        let entry = try #require(try s.psEntry("T3"))
        #expect((entry.at("usage.oom_kills")?.intValue ?? 0) >= 1)
    }

    @Test func limitsAreAppliedShownAndTheHostDefaultsFillTheRest() throws {
        let s = try Scratch(name: "cgroup-limits")
        defer { s.cleanup() }
        #expect(try s.mcrun(["config", "pids-max", "64"]).status == 0)
        let json = try s.startJSON("T4", ["sleep", "300"], extra: ["--memory-max", "96M", "--cpu-weight", "50"])
        #expect(json.at("runtime.limits.memory_max.value")?.intValue == 96 << 20)
        #expect(json.at("runtime.limits.cpu_weight.value")?.intValue == 50)
        #expect(json.at("runtime.limits.pids_max.value")?.intValue == 64)
        let entry = try #require(try s.psEntry("T4"))
        let hierarchy = CgroupHierarchy.current()
        let support = hierarchy.limitSupport()
        for (key, controller) in [("memory_max", "memory"), ("cpu_weight", "cpu"), ("pids_max", "pids")] {
            #expect(entry.at("limits.\(key).enforced_by")?.stringValue == support[controller] ?? "none", "\(key): \(entry)")
        }
        // The kernel has the limit, in whichever hierarchy carries it.
        let context = try s.context()
        let runtime = try #require(try context.ledger.runtime(ticket: "T4", episode: nil))
        let cgroup = try #require(runtime.cgroup)
        let memoryFile = cgroup.enforced["memory"] == "cgroup2" ? cgroup.path + "/memory.max" : (cgroup.v1["memory"] ?? "") + "/memory.limit_in_bytes"
        #expect(try String(contentsOfFile: memoryFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == String(96 << 20))
        let pidsFile = cgroup.enforced["pids"] == "cgroup2" ? cgroup.path + "/pids.max" : (cgroup.v1["pids"] ?? "") + "/pids.max"
        #expect(try String(contentsOfFile: pidsFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) == "64")
        #expect(entry.at("usage.cpu_usec")?.intValue != nil, "\(entry)")
        let show = try s.mcrun(["show", "T4"]).stdoutText
        #expect(show.contains("limits: memory-max 96M, cpu-weight 50, pids-max 64"), "\(show)")
        #expect(show.contains("cgroup: \(cgroup.path)"), "\(show)")
        let metrics = try s.mcrun(["metrics"]).stdoutText
        for family in ["mcrun_runtime_memory_bytes", "mcrun_runtime_memory_peak_bytes", "mcrun_runtime_cpu_seconds_total"] {
            #expect(metrics.contains("\(family){ticket=\"T4\",episode=\"1\"} "), "\(family) missing:\n\(metrics)")
        }
        #expect(metrics.contains("mcrun_runtimes_without_cgroup 0\n"))
    }
}

/// Where no cgroup can be made, the runtime runs without one, says so, and stop falls back
/// to the /proc search. Runs anywhere: the cgroup root points at a plain directory.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct CgroupFallbackTests {
    @Test func withoutADelegatedCgroupTheProcSearchStopsWhatCarriesTheNonce() throws {
        let s = try Scratch(name: "cgroup-fallback")
        defer { s.cleanup() }
        let notACgroup = s.path("not-a-cgroup")
        try FileManager.default.createDirectory(atPath: notACgroup, withIntermediateDirectories: true)
        #expect(try s.mcrun(["config", "cgroup-root", notACgroup]).status == 0)
        let agent = try s.script(
            "leaves",
            """
            #!/bin/sh
            /bin/sh -c 'echo $$ > \(s.path("child.pid")); exec sleep 3007' &
            exec sleep 3000
            """)
        let json = try s.startJSON("T5", [agent])
        #expect(json.at("runtime.cgroup") == .null)
        let missing = json.at("runtime.cgroup_missing")?.stringValue ?? ""
        #expect(missing.contains("not a cgroup2 directory"), "\(json)")
        let ps = try s.mcrun(["ps"]).stdoutText
        #expect(ps.hasPrefix("note: 1 live runtime has no cgroup ("), "the ps header does not say leftovers are searched for: \(ps)")
        #expect(try s.mcrun(["show", "T5"]).stdoutText.contains("no cgroup: "))
        #expect(try s.mcrun(["metrics"]).stdoutText.contains("mcrun_runtimes_without_cgroup 1\n"))
        let child = try s.pids(["child.pid"])[0]
        #expect(try s.mcrun(["stop", "T5", "--grace", "500ms"]).status == 0)
        #expect(!processExists(child))
        #expect(try s.lastEvent("teardown", ticket: "T5")?.at("data.leftovers_by")?.stringValue == "proc")
    }

    @Test func badLimitsAndCgroupRootsAreRefusedAndChangeNothing() throws {
        let s = try Scratch(name: "cgroup-bad")
        defer { s.cleanup() }
        for flags in [["--memory-max", "3M"], ["--memory-max", "64Q"], ["--cpu-weight", "0"], ["--pids-max", "-1"]] {
            let r = try s.mcrun(["start", "T6"] + flags + ["--", "sleep", "300"])
            #expect(r.status == 2, "\(flags): \(r.stderrText)")
            #expect(r.stderrText.split(separator: "\n").count == 1, "\(flags): \(r.stderrText)")
        }
        for (key, value) in [("memory-max", "lots"), ("cpu-weight", "10001"), ("pids-max", "0"), ("cgroup-root", "relative/path")] {
            let r = try s.mcrun(["config", key, value])
            #expect(r.status == 2, "\(key) \(value): \(r.stderrText)")
        }
        #expect(try s.psEntry("T6") == nil)
        // Nothing was stored: the defaults are still unset.
        let config = try s.mcrun(["config", "--json"]).stdoutText
        #expect(!config.contains("lots") && !config.contains("10001") && !config.contains("relative/path"), "\(config)")
    }

    @Test func doctorSaysWhichHierarchyEnforcesEachLimit() throws {
        let s = try Scratch(name: "cgroup-doctor")
        defer { s.cleanup() }
        let json = try s.mcrunJSON(["doctor"]).json
        let checks = Dictionary(
            (json.at("checks")?.arrayValue ?? []).map { ($0.at("name")?.stringValue ?? "?", $0) }, uniquingKeysWith: { a, _ in a })
        let hierarchy = CgroupHierarchy.current()
        let v2 = try #require(checks["cgroup v2"])
        if let mount = hierarchy.unifiedMount {
            #expect(v2.at("detail")?.stringValue?.contains(mount) == true, "\(v2)")
            #expect(v2.at("detail")?.stringValue?.hasPrefix(hierarchy.ownV1.isEmpty ? "unified" : "hybrid") == true, "\(v2)")
        }
        let limits = try #require(checks["cgroup limits"]?.at("detail")?.stringValue)
        for (controller, where_) in hierarchy.limitSupport() { #expect(limits.contains("\(controller): \(where_)"), "\(limits)") }
        #expect(checks["runtime cgroups"] != nil)
    }
}
