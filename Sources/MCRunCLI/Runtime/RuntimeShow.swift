import ArgumentParser
import Foundation
import MCRunCore

struct RuntimeShow: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a ticket: its current runtime, its episodes, its last events.",
        discussion: """
            EXAMPLES:
              mcrun show T-42
              mcrun show T-42 --events 50 --json
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Ticket id.")
    var ticket: String

    @Option(parsing: .unconditional, help: "How many of the latest events to show, 0 to 100000 (default 20).", transform: Bounded.integer(0...100_000))
    var events: Int = 20

    func execute() throws(MCRunError) -> Reply {
        let ticketID = try global.ticket(ticket)
        let context = try global.readContext()
        guard let history = try context.ledger.ticketHistory(ticketID.rawValue, eventLimit: events) else {
            throw MCRunError(.notFound, "no_ticket", "ticket \(ticketID) is not known; see: mcrun ps --all")
        }
        let (t, episodes, events, queue) = (history.ticket, history.episodes, history.events, history.queue)
        let current = episodes.first
        var lines: [String] = []
        lines.append(
            "ticket \(t.id): deaths \(t.deaths)\(t.parked ? ", PARKED (\(t.parkedReason ?? "-"))" : "")\(t.escalated ? ", ESCALATED (\(t.escalatedReason ?? "-"))" : "")"
        )
        if let r = current {
            let liveness = r.liveness()
            lines.append("runtime #\(r.id ?? 0) episode \(r.episode): \(r.status(liveness: liveness))\(liveness.map { " (agent \($0.rawValue))" } ?? "")")
            lines.append("  command: \(r.argv.map { $0.debugDescription }.joined(separator: " "))")
            lines.append("  cwd: \(r.cwd)   owner: \(r.owner ?? "-")   session: \(r.sessionName) \(r.paneID ?? "")")
            if let pid = r.pid { lines.append("  agent pid \(pid), start time \(r.startTime ?? 0), boot \(r.bootID ?? "-")") }
            if let missing = r.paneLogMissing { lines.append("  no pane log: \(missing)") }
            if let kind = r.agentKind { lines.append("  agent: \(kind.rawValue)") }
            if let cgroup = r.cgroup {
                lines.append(
                    "  cgroup\(r.state.isEnded ? " (removed at its end)" : ""): \(cgroup.path)\(cgroup.v1.isEmpty ? "" : " (with cgroup v1 groups for \(cgroup.v1.keys.sorted().joined(separator: ", ")))")"
                )
            } else if let missing = r.cgroupMissing {
                lines.append("  no cgroup: \(missing); leftovers are found by searching /proc")
            }
            let limits = r.limits ?? ResourceLimits()
            if !limits.isEmpty {
                let unenforced = ["memory": limits.memoryMax != nil, "cpu": limits.cpuWeight != nil, "pids": limits.pidsMax != nil]
                    .filter { $0.value && r.cgroup?.enforced[$0.key] == nil }.keys.sorted()
                lines.append(
                    "  limits: \(limits.summary)\(unenforced.isEmpty || r.state == .launching ? "" : " (not enforced: \(unenforced.joined(separator: ", ")))")")
            }
            if let usage = RuntimeView.usage(r) { lines.append("  usage: \(RuntimeView.usageText(usage))") }
            if let session = r.agentSessionID {
                lines.append("  agent session: \(session)\(r.agentTranscriptPath.map { ", transcript \($0)" } ?? "")")
            }
            if let resume = r.resumeArgv { lines.append("  resume command: \(resume.map { $0.debugDescription }.joined(separator: " "))") }
            if let original = r.originalArgv {
                lines.append("  resumed from the command: \(original.map { $0.debugDescription }.joined(separator: " "))")
            }
            if r.state.isLive {
                let waiting =
                    r.waitingSince.map { " for a person (\(r.waitingFor ?? "input")) since \(Self.time($0)); send will not type into its prompt" } ?? ""
                lines.append("  activity: \(RuntimeView.activity(r))\(waiting)\(r.busySource.map { " (by \($0))" } ?? "")")
            }
            if r.state.isLive == false {
                lines.append(
                    "  ended: \(r.endReason ?? "-") by \(r.endedBy ?? "-"); exit \(r.exitCode.map(String.init) ?? "-"), signal \(r.exitSignal.map(String.init) ?? "-"), leftovers killed \(r.leftoversKilled ?? 0)"
                )
            }
        }
        if let relaunch = history.relaunch {
            lines.append("  \(RuntimeView.relaunchText(relaunch, now: WallClock.now()))")
        }
        if let last = history.refusals.first {
            let window = last.count == 1 ? "" : ", \(last.count) since \(Self.time(last.windowStartedAt))"
            lines.append("  last refusal: \(last.action) \(last.reason) (exit \(last.code)) at \(Self.time(last.lastAt))\(window); \(last.total) in all")
        }
        if !queue.isEmpty {
            lines.append("")
            lines.append(
                RuntimeView.table(
                    ["MSG", "MODE", "STATE", "BYTES", "SENT", "PASTED", "CONFIRMED", "ERROR"],
                    queue.map { m in
                        [
                            String(m.id), m.mode, m.state, String(m.bytes), Self.time(m.createdAt), m.deliveredAt.map(Self.time) ?? "-",
                            m.confirmedAt.map(Self.time) ?? "-", m.error ?? "-",
                        ]
                    }))
        }
        lines.append("")
        lines.append(
            RuntimeView.table(
                ["EP", "STATE", "PID", "CREATED", "ENDED", "REASON"],
                episodes.map { r in
                    [
                        String(r.episode), r.state.rawValue, r.pid.map(String.init) ?? "-", Self.time(r.createdAt), r.endedAt.map(Self.time) ?? "-",
                        r.endReason ?? "-",
                    ]
                }))
        lines.append("")
        lines.append(
            RuntimeView.table(
                ["EVENT", "AT", "KIND", "EP", "FROM", "TO", "ACTOR", "REASON"],
                events.map { e in
                    [
                        String(e.id ?? 0), Self.time(e.at), e.kind, e.episode.map(String.init) ?? "-", e.fromState ?? "-", e.toState ?? "-", e.actor,
                        e.reason ?? "-",
                    ]
                }))
        return Reply(
            fields: [
                "ticket": [
                    "id": .string(t.id), "parked": .bool(t.parked), "parked_reason": JSONValue(t.parkedReason), "deaths": .int(Int64(t.deaths)),
                    "escalated": .bool(t.escalated), "escalated_reason": JSONValue(t.escalatedReason),
                ],
                "runtime": current.map { RuntimeView.json($0, ticket: t) } ?? .null,
                "episodes": .array(episodes.map { RuntimeView.json($0) }),
                "events": .array(events.map(EventView.json)),
                "relaunch": history.relaunch.map(RuntimeView.relaunchJSON) ?? .null,
                "refusals": .array(
                    history.refusals.map { r in
                        [
                            "reason": .string(r.reason), "action": .string(r.action), "code": .int(Int64(r.code)),
                            "count": .int(Int64(r.count)), "total": .int(Int64(r.total)), "window_started_at": .double(r.windowStartedAt),
                            "last_at": .double(r.lastAt), "event_id": JSONValue(r.eventID),
                        ]
                    }),
                "queue": .array(queue.map(RuntimeView.messageJSON)),
                "last_send": queue.last.map(RuntimeView.messageJSON) ?? .null,
            ],
            human: lines.joined(separator: "\n"))
    }

    static func time(_ t: Double) -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date(timeIntervalSince1970: t))
    }
}

enum EventView {
    static func json(_ e: Event) -> JSONValue {
        [
            "id": JSONValue(e.id), "at": .double(e.at), "kind": .string(e.kind), "ticket": JSONValue(e.ticket),
            "runtime_id": JSONValue(e.runtimeID), "episode": JSONValue(e.episode), "from": JSONValue(e.fromState),
            "to": JSONValue(e.toState), "actor": .string(e.actor), "reason": JSONValue(e.reason), "data": e.data,
        ]
    }
}
