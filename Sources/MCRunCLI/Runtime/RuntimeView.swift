import Foundation
import MCRunCore

/// How a runtime is shown: the JSON a dispatcher reads and the row an operator reads.
/// Liveness is always read now, by identity; the nonce and environment are never shown.
enum RuntimeView {
    static func json(_ r: Runtime, ticket: Ticket? = nil, liveness given: AgentIdentity.Liveness?? = nil) -> JSONValue {
        let liveness = given ?? r.liveness()
        var o: [String: JSONValue] = [
            "id": JSONValue(r.id), "ticket": .string(r.ticket), "episode": .int(Int64(r.episode)),
            "state": .string(r.state.rawValue), "status": .string(r.status(liveness: liveness)),
            "alive": liveness.map { $0 == .unknown ? .null : .bool($0.isAlive) } ?? .bool(false),
            "liveness": JSONValue(liveness?.rawValue),
            "owner": JSONValue(r.owner), "pid": JSONValue(r.pid.map { Int($0) }), "start_time": JSONValue(r.startTime),
            "boot_id": JSONValue(r.bootID), "session": .string(r.sessionName), "session_id": JSONValue(r.sessionID),
            "pane": JSONValue(r.paneID), "argv": JSONValue(r.argv), "cwd": .string(r.cwd),
            "created_at": .double(r.createdAt), "started_at": JSONValue(r.startedAt), "ended_at": JSONValue(r.endedAt),
            "end_reason": JSONValue(r.endReason), "ended_by": JSONValue(r.endedBy),
            "exit_code": JSONValue(r.exitCode), "exit_signal": JSONValue(r.exitSignal),
            "leftovers_killed": JSONValue(r.leftoversKilled), "busy": .bool(r.busy), "busy_source": JSONValue(r.busySource),
            "verdict": JSONValue(r.verdict?.rawValue), "pane_log_missing": JSONValue(r.paneLogMissing),
            "waiting": .bool(r.waitingSince != nil), "waiting_for": JSONValue(r.waitingFor), "waiting_since": JSONValue(r.waitingSince),
            "activity": r.state.isLive ? .string(activity(r)) : .null,
            "agent_session_id": JSONValue(r.agentSessionID), "agent_transcript_path": JSONValue(r.agentTranscriptPath),
            "agent": JSONValue(r.agentKind?.rawValue), "resume_argv": r.resumeArgv.map { JSONValue($0) } ?? .null,
            "original_argv": r.originalArgv.map { JSONValue($0) } ?? .null,
        ]
        o["cgroup"] = JSONValue(r.cgroup?.path)
        o["cgroup_missing"] = JSONValue(r.cgroupMissing)
        o["limits"] = limitsJSON(r)
        o["usage"] = usage(r).map(usageJSON) ?? .null
        if let ticket {
            o["deaths"] = .int(Int64(ticket.deaths))
            o["escalated"] = .bool(ticket.escalated)
            o["parked"] = .bool(ticket.parked)
        }
        return .object(o)
    }

    /// One message (a send, direct or queued), without its text.
    static func messageJSON(_ m: QueuedMessage) -> JSONValue {
        [
            "id": .int(m.id), "runtime_id": .int(m.runtimeID), "state": .string(m.state), "mode": .string(m.mode), "bytes": .int(Int64(m.bytes)),
            "created_at": .double(m.createdAt), "delivered_at": JSONValue(m.deliveredAt), "confirmed_at": JSONValue(m.confirmedAt),
            "error": JSONValue(m.error),
        ]
    }

    /// Limits as given, with where each is enforced (`cgroup2`, `cgroup1`, or `none` when
    /// the host offers no such controller).
    static func limitsJSON(_ r: Runtime) -> JSONValue {
        let limits = r.limits ?? ResourceLimits()
        func entry(_ value: Int64?, _ controller: String) -> JSONValue {
            guard let value else { return .null }
            return ["value": .int(value), "enforced_by": .string(r.cgroup?.enforced[controller] ?? "none")]
        }
        return [
            "memory_max": entry(limits.memoryMax, "memory"), "cpu_weight": entry(limits.cpuWeight.map(Int64.init), "cpu"),
            "pids_max": entry(limits.pidsMax.map(Int64.init), "pids"),
        ]
    }

    /// A live runtime's usage read from its cgroup now; an ended one's as recorded at its end.
    static func usage(_ r: Runtime) -> ResourceUsage? {
        if r.state.isLive, let cgroup = r.cgroup, let now = cgroup.usage() { return now }
        return r.usage
    }

    static func usageJSON(_ u: ResourceUsage) -> JSONValue {
        [
            "memory_current_bytes": JSONValue(u.memoryCurrent), "memory_peak_bytes": JSONValue(u.memoryPeak),
            "cpu_usec": JSONValue(u.cpuMicroseconds), "oom_kills": JSONValue(u.oomKills),
        ]
    }

    /// `memory 12M (peak 40M), cpu 1.2s, oom kills 1` for people.
    static func usageText(_ u: ResourceUsage) -> String {
        var parts: [String] = []
        if let current = u.memoryCurrent {
            parts.append("memory \(ResourceLimits.formatSize(current))" + (u.memoryPeak.map { " (peak \(ResourceLimits.formatSize($0)))" } ?? ""))
        }
        if let cpu = u.cpuMicroseconds { parts.append(String(format: "cpu %.1fs", Double(cpu) / 1e6)) }
        if let kills = u.oomKills, kills > 0 { parts.append("oom kills \(kills)") }
        return parts.isEmpty ? "-" : parts.joined(separator: ", ")
    }

    /// What a live agent is doing: `waiting` for a person (it reported a permission prompt),
    /// `busy` mid-turn, or `idle`.
    static func activity(_ r: Runtime) -> String {
        r.waitingSince != nil ? "waiting" : r.busy ? "busy" : "idle"
    }

    /// A relaunch owed to a ticket, as `ps` and `show` print it.
    static func relaunchText(_ relaunch: PendingRetry, now: Double) -> String {
        if let held = relaunch.heldReason {
            return "relaunch held: \(held)" + (relaunch.heldSince.map { " (since \(RuntimeShow.time($0)))" } ?? "")
        }
        return relaunch.dueAt > now ? "relaunch due in \(duration(relaunch.dueAt - now))" : "relaunch due now"
    }

    static func relaunchJSON(_ relaunch: PendingRetry) -> JSONValue {
        [
            "due_at": .double(relaunch.dueAt), "held_reason": JSONValue(relaunch.heldReason), "held_since": JSONValue(relaunch.heldSince),
            "attempts": .int(Int64(relaunch.attempts)), "host_incident_id": JSONValue(relaunch.hostIncidentID),
        ]
    }

    /// The program a live agent PID runs now (its `comm`: the executable's name, at most 15
    /// bytes), read only while the PID is still the recorded agent.
    static func program(of runtime: Runtime, liveness: AgentIdentity.Liveness?) -> String? {
        guard liveness == .alive, let pid = runtime.pid, let bytes = ProcFS.readFile("/proc/\(pid)/comm", limit: 64) else { return nil }
        let name = String(decoding: bytes.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        return name.isEmpty ? nil : name
    }

    /// The name the runtime was launched as: its argv[0]'s last path component.
    static func launched(_ runtime: Runtime) -> String? {
        runtime.argv.first.map { $0.split(separator: "/").last.map(String.init) ?? $0 }
    }

    /// Whether the agent PID now runs something else than it was launched as (a wrapper
    /// that exec'd). `comm` is cut at 15 bytes, so only that much is compared.
    static func hasExeced(program: String?, launched: String?) -> Bool {
        guard let program, let launched else { return false }
        return program != String(decoding: Array(launched.utf8).prefix(15), as: UTF8.self)
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(max(0, seconds))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        if s < 86400 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
        return "\(s / 86400)d\(String(format: "%02d", (s % 86400) / 3600))h"
    }

    /// Left-aligned columns, two spaces apart. Given a `width`, the columns named in
    /// `dropFirst` are left out, in that order, until the table fits; then the last column
    /// is cut (marked `…`).
    static func table(_ header: [String], _ rows: [[String]], width: Int? = nil, dropFirst: [String] = []) -> String {
        var header = header
        var rows = rows
        func widthsOf() -> [Int] {
            var widths = header.map(\.count)
            for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
            return widths
        }
        var widths = widthsOf()
        if let width {
            func total() -> Int { widths.reduce(0, +) + 2 * max(0, widths.count - 1) }
            for name in dropFirst where total() > width {
                guard let i = header.firstIndex(of: name) else { continue }
                header.remove(at: i)
                rows = rows.map { row in
                    var row = row
                    if i < row.count { row.remove(at: i) }
                    return row
                }
                widths = widthsOf()
            }
            let room = width - (total() - (widths.last ?? 0))
            if total() > width, room >= 2 {
                func cut(_ cell: String) -> String { cell.count > room ? String(cell.prefix(room - 1)) + "…" : cell }
                header[header.count - 1] = cut(header[header.count - 1])
                rows = rows.map { row in row.enumerated().map { $0.offset == row.count - 1 ? cut($0.element) : $0.element } }
                widths = widthsOf()
            }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c + String(repeating: " ", count: max(0, widths[i] - c.count)) }
                .joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}
