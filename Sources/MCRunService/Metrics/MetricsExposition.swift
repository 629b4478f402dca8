import Foundation
import Glibc
public import MCRunCore

/// `mcrun metrics` and `serve --metrics-textfile`: the ledger's counts in the Prometheus
/// text exposition format (version 0.0.4), the format node_exporter's textfile collector reads.
public enum MetricsExposition {
    /// Upper bounds (seconds) of the death-to-record histogram: deaths are recorded in tens
    /// of milliseconds, so the buckets are finest there.
    public static let deathRecordBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// `serveRunning`: whether a `serve` holds the state directory's lock now.
    public static func render(_ m: LedgerMetrics, serveRunning: Bool, now: Double = WallClock.now()) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: Double)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for s in samples { out += "\(name)\(s.labels) \(number(s.value))\n" }
        }
        family(
            "mcrun_runtimes", "gauge", "Runtimes in the ledger by state.",
            RuntimeState.allCases.map { ("{state=\"\($0.rawValue)\"}", Double(m.runtimesByState[$0] ?? 0)) })
        family("mcrun_deaths_total", "counter", "Unexpected deaths of agents recorded.", [("", Double(m.events["death"] ?? 0))])
        family("mcrun_relaunches_total", "counter", "Silent relaunches started after a death.", [("", Double(m.events["retry"] ?? 0))])
        family("mcrun_escalations_total", "counter", "Tickets escalated to a person.", [("", Double(m.events["escalation"] ?? 0))])
        family(
            "mcrun_event_hook_failures_total", "counter", "Event-hook deliveries that failed for good (every attempt used).",
            [("", Double(m.events["hook_failed"] ?? 0))])
        family("mcrun_orphan_sessions_total", "counter", "Sessions found in mcrun's tmux server without a runtime.", [("", Double(m.events["orphan"] ?? 0))])
        family("mcrun_tickets_escalated", "gauge", "Tickets escalated now.", [("", Double(m.ticketsEscalated))])
        family("mcrun_tickets_parked", "gauge", "Tickets parked now.", [("", Double(m.ticketsParked))])
        family("mcrun_relaunches_owed", "gauge", "Relaunches owed (due or held by policy).", [("", Double(m.relaunchesOwed))])
        family("mcrun_send_queue_depth", "gauge", "Messages queued for busy agents, not yet delivered.", [("", Double(m.sendQueuePending))])
        family("mcrun_event_hook_deliveries_pending", "gauge", "Event-hook deliveries not yet done.", [("", Double(m.hookDeliveriesPending))])
        family("mcrun_killswitch", "gauge", "1 while the kill switch is on.", [("", m.killSwitchOn ? 1 : 0)])
        family(
            "mcrun_host_incident_open", "gauge",
            "1 while a host incident of this kind is open (tmux_lost: mcrun's tmux server lost; breaker: the host breaker).",
            HostIncident.Kind.allCases.map { ("{kind=\"\($0.rawValue)\"}", Double(m.incidentsOpen[$0] ?? 0)) })
        family(
            "mcrun_host_incidents_total", "counter", "Host incidents opened, by kind.",
            HostIncident.Kind.allCases.map { ("{kind=\"\($0.rawValue)\"}", Double(m.incidentsTotal[$0] ?? 0)) })
        family("mcrun_serve_running", "gauge", "1 while a mcrun serve supervises this state directory.", [("", serveRunning ? 1 : 0)])
        if let heartbeat = m.heartbeat {
            family(
                "mcrun_serve_last_pass_timestamp_seconds", "gauge", "When serve last completed a full reconcile pass (Unix time).",
                [("", heartbeat.lastPassAt)])
            family(
                "mcrun_serve_last_pass_age_seconds", "gauge", "Seconds since serve last completed a full reconcile pass, as of this exposition.",
                [("", max(0, now - heartbeat.lastPassAt))])
        }
        family(
            "mcrun_runtimes_without_cgroup", "gauge", "Live runtimes without a cgroup of their own (leftovers found by searching /proc).",
            [("", Double(m.liveWithoutCgroup))])
        // Read from each live runtime's cgroup now: what the kernel charges to it.
        let usage = m.liveCgroups.compactMap { r in r.cgroup.usage().map { (labels: "{ticket=\"\(r.ticket)\",episode=\"\(r.episode)\"}", usage: $0) } }
        family(
            "mcrun_runtime_memory_bytes", "gauge", "Memory charged to a live runtime's cgroup.",
            usage.compactMap { u in u.usage.memoryCurrent.map { (u.labels, Double($0)) } })
        family(
            "mcrun_runtime_memory_peak_bytes", "gauge", "Peak memory charged to a live runtime's cgroup.",
            usage.compactMap { u in u.usage.memoryPeak.map { (u.labels, Double($0)) } })
        family(
            "mcrun_runtime_cpu_seconds_total", "counter", "CPU time used by a live runtime's cgroup.",
            usage.compactMap { u in u.usage.cpuMicroseconds.map { (u.labels, Double($0) / 1e6) } })
        family(
            "mcrun_runtime_oom_kills_total", "counter", "Processes of a live runtime killed by the OOM killer.",
            usage.compactMap { u in u.usage.oomKills.map { (u.labels, Double($0)) } })
        out += "# HELP mcrun_death_record_seconds Seconds from serve noticing a death to the transaction recording it.\n"
        out += "# TYPE mcrun_death_record_seconds histogram\n"
        for bound in deathRecordBuckets {
            let count = m.deathRecordSeconds.filter { $0 <= bound }.count
            out += "mcrun_death_record_seconds_bucket{le=\"\(number(bound))\"} \(count)\n"
        }
        out += "mcrun_death_record_seconds_bucket{le=\"+Inf\"} \(m.deathRecordSeconds.count)\n"
        out += "mcrun_death_record_seconds_sum \(number(m.deathRecordSeconds.reduce(0, +)))\n"
        out += "mcrun_death_record_seconds_count \(m.deathRecordSeconds.count)\n"
        return out
    }

    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// Writes `text` where node_exporter reads it, atomically: a temporary file beside it
    /// (a name the collector ignores, since it reads only `*.prom`), then rename.
    public static func writeTextfile(_ text: String, to path: String) throws(MCRunError) {
        let temporary = path + ".\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .internalError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                let why = String(cString: strerror(errno))
                close(fd)
                unlink(temporary)
                throw .internalError("cannot write \(temporary): \(why)")
            }
            bytes = bytes.dropFirst(n)
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            throw .internalError("cannot rename \(temporary) to \(path): \(why)")
        }
    }
}
