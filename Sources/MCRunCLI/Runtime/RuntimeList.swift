import ArgumentParser
import Foundation
import Glibc
import MCRunCore

struct RuntimeList: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "List runtimes: live ones and tickets that need attention, with liveness read now.",
        discussion: """
            ALIVE is decided by the agent's recorded identity (boot id, PID, start time), never by the pane.
            Listed by default: live runtimes, parked and escalated tickets, and tickets owed a relaunch
            (NOTE says when it is due, or what holds it). FLAGS shows exec'd:NAME when the agent PID now
            runs NAME rather than the program it was launched as. BUSY is busy, idle, or waiting: the
            agent reported that it waits for a person (a permission prompt), and send will not type
            into it (JSON: activity, waiting, waiting_for, waiting_since).
            The table fits $COLUMNS or the terminal's width: the least useful columns
            go first (SESSION, UPTIME, OWNER, PID, DEATHS, EP, BUSY), then NOTE is cut.
            --watch redraws the table whenever the ledger changes (and at least every
            --interval, for liveness and uptimes), until Ctrl-C or SIGTERM; with --json
            it prints one object per refresh.

            EXAMPLES:
              mcrun ps                       live runtimes and tickets that need a person
              mcrun ps --all                 every ticket's latest episode, ended ones too
              mcrun ps --watch               a live table, redrawn on every change
              mcrun ps --json | jq '.runtimes | length'
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Every ticket's latest episode, ended ones too.")
    var all = false

    @Flag(
        help:
            "Also match the busy-pattern (configured, or the agent's default) and, for Aider, its yes/no question against the screen of each live runtime that hooks and pane activity call idle (one tmux call per such runtime)."
    )
    var busyDetail = false

    @Option(
        parsing: .unconditional, help: "Flag live runtimes without pane output for this long as silent, 1ms to 8760h (default: the harvest_timeout setting).",
        transform: Bounded.duration(Bounded.harvestTimeout))
    var harvestTimeout: DurationArgument?

    @Flag(help: "Keep the table on screen, redrawn whenever the ledger changes.")
    var watch = false

    @Option(
        parsing: .unconditional, help: "With --watch: redraw at least this often even when nothing was written, 100ms to 1h (default 2s).",
        transform: Bounded.duration(100...DurationText.hour))
    var interval: DurationArgument?

    func validate() throws {
        if interval != nil && !watch { throw ValidationError("--interval goes with --watch; use: mcrun ps --watch --interval 5s") }
    }

    func execute() throws(MCRunError) -> Reply {
        let context = try global.readContext()
        guard watch else { return try listing(context) }
        return try watchLoop(context)
    }

    /// Redraws on every write to the ledger (its file or WAL changed), at least every
    /// --interval, until SIGINT/SIGTERM or a closed pipe.
    private func watchLoop(_ context: MCRunContext) throws(MCRunError) -> Reply {
        Streaming.prepare()
        var context = context
        var changes = DirectoryWatch(directory: context.stateDirectory.path, namePrefix: "ledger.sqlite")
        let period = interval?.milliseconds ?? 2_000
        let terminal = isatty(1) == 1
        repeat {
            // Watching a state directory that has no ledger yet: the first command that writes
            // creates it (and the directory), and it is watched from there on.
            if context.ledger.isStandIn, let created = try? global.readContext(), !created.ledger.isStandIn {
                context = created
                changes = DirectoryWatch(directory: context.stateDirectory.path, namePrefix: "ledger.sqlite")
            }
            let reply: Reply
            do {
                reply = try listing(context)
            } catch {
                // A ledger busy for a moment does not end the watch: say so, try at the next wake.
                Output.fail(error, json: global.json)
                continue
            }
            var text: String
            if global.json {
                text = Output.stamped(.object(reply.fields.merging(["ok": true, "code": 200]) { _, new in new })).jsonText + "\n"
            } else {
                let header =
                    "mcrun ps --watch: \(RuntimeShow.time(WallClock.now())); redrawn on every change and every \(RuntimeView.duration(Double(period) / 1000)); Ctrl-C to stop"
                text = header + "\n\n" + reply.human + "\n"
                text = terminal ? "\u{1B}[H\u{1B}[2J" + text : text + "\n"
            }
            guard Streaming.write(Array(text.utf8)) else { break }
        } while changes.wait(milliseconds: period, stop: { Streaming.stopRequested })
        return Reply(printed: true)
    }

    private func listing(_ context: MCRunContext) throws(MCRunError) -> Reply {
        let listing = try context.ledger.listing(includeEnded: all, environment: context.environment)
        let (rows, busySettings, configuredSilence) = (listing.tickets, listing.busySettings, listing.harvestTimeout)
        let silenceLimit = harvestTimeout.map { Double($0.milliseconds) / 1000 } ?? configuredSilence
        let bootID = ProcFS.bootID()
        // One tmux call, whatever the number of runtimes.
        let snapshot = try? context.tmux.snapshot()
        let known = Set(rows.map(\.runtime.sessionName))
        let orphans = snapshot?.panes.filter { !known.contains($0.sessionName) && !$0.sessionName.isEmpty } ?? []
        let now = WallClock.now()

        var json: [JSONValue] = []
        var table: [[String]] = []
        for row in rows {
            var runtime = row.runtime
            let ticket = row.ticket
            if runtime.state.isLive {
                // The same function `send` acts on; the screen only when asked for.
                let pane = snapshot?.pane(of: runtime)
                let assessment = Activity.assess(
                    runtime, pane: pane, settings: busySettings, now: now,
                    screen: busyDetail
                        ? {
                            pane.flatMap { context.tmux.capture($0.paneID) }
                        } : nil)
                runtime.busy = assessment.busy
                runtime.busySource = assessment.source?.rawValue
                runtime.busyAt = assessment.at
                // A question read off the screen (Aider's yes/no) is waiting too.
                if assessment.waiting, runtime.waitingSince == nil {
                    runtime.waitingSince = now
                    runtime.waitingFor = "question"
                }
            }
            // The one /proc look per runtime: its identity, then (only if it is still the
            // agent) the program it runs now.
            let liveness = runtime.identity?.liveness(currentBootID: bootID)
            let program = RuntimeView.program(of: runtime, liveness: liveness)
            let launched = RuntimeView.launched(runtime)
            var view = RuntimeView.json(runtime, ticket: ticket, liveness: .some(liveness))
            if case .object(var o) = view {
                o["program"] = JSONValue(program)
                o["launched"] = JSONValue(launched)
                o["relaunch"] = row.relaunch.map(RuntimeView.relaunchJSON) ?? .null
                o["last_send"] = row.lastSend.map(RuntimeView.messageJSON) ?? .null
                view = .object(o)
            }
            json.append(view)
            let alive: String
            switch liveness {
            case .alive?: alive = "yes"
            case .unknown?: alive = "?"
            case nil: alive = runtime.state == .launching ? "-" : "no"
            default: alive = "NO"
            }
            var flags: [String] = []
            if ticket.parked { flags.append("parked") }
            if ticket.escalated { flags.append("ESCALATED") }
            if RuntimeView.hasExeced(program: program, launched: launched), let program { flags.append("exec'd:\(program)") }
            if runtime.state.isLive, snapshot?.serverRunning == true, snapshot?.pane(sessionName: runtime.sessionName) == nil {
                flags.append("no-session")
            }
            // From the one snapshot and the log's mtime: no tmux call per runtime.
            let pane = snapshot?.pane(of: runtime)
            if HarvestTimeout.silence(runtime, pane: pane, logPath: context.stateDirectory.paneLogPath(runtimeID: runtime.id!), limit: silenceLimit, now: now)
                != nil
            {
                flags.append("silent")
                if case .object(var o)? = json.popLast() {
                    o["silent"] = true
                    json.append(.object(o))
                }
            }
            // The table only for people: with --json it would be built and thrown away.
            guard !global.json else { continue }
            let since = runtime.startedAt ?? runtime.createdAt
            table.append([
                runtime.ticket, String(runtime.episode), runtime.status(liveness: liveness), alive,
                runtime.pid.map(String.init) ?? "-",
                runtime.state.isLive ? RuntimeView.duration(now - since) : "-",
                runtime.state.isLive ? RuntimeView.activity(runtime) + (busyDetail ? "(\(runtime.busySource ?? "-"))" : "") : "-",
                runtime.owner ?? "-", String(ticket.deaths), flags.isEmpty ? "-" : flags.joined(separator: ","),
                runtime.sessionName, row.relaunch.map { RuntimeView.relaunchText($0, now: now) } ?? "-",
            ])
        }
        for orphan in orphans {
            table.append(["?", "-", "orphan", "?", String(orphan.panePID), "-", "-", "-", "-", "orphan", orphan.sessionName, "-"])
        }
        var human = ""
        if !global.json {
            human =
                table.isEmpty && orphans.isEmpty
                ? "no runtimes" + (all ? "" : " (see --all for ended ones)")
                : RuntimeView.table(
                    ["TICKET", "EP", "STATE", "ALIVE", "PID", "UPTIME", "BUSY", "OWNER", "DEATHS", "FLAGS", "SESSION", "NOTE"], table,
                    width: Terminal.columns(), dropFirst: ["SESSION", "UPTIME", "OWNER", "PID", "DEATHS", "EP", "BUSY"])
            if snapshot == nil { human += "\nwarning: mcrun's tmux server did not answer; sessions are not shown" }
            let uncontained = rows.filter { $0.runtime.state.isLive && $0.runtime.cgroup == nil && $0.runtime.cgroupMissing != nil }
            // Above the table: what stop can and cannot reach is read before the rows.
            if let first = uncontained.first?.runtime.cgroupMissing {
                human =
                    "note: \(uncontained.count) live runtime\(uncontained.count == 1 ? " has" : "s have") no cgroup (\(first)); their leftovers are found by searching /proc\n"
                    + human
            }
            // Host incidents first: what ended these runtimes was not their agents.
            let incidents = listing.incidents.map { "HOST: \($0.summary(now: now))" }
            if !incidents.isEmpty { human = incidents.joined(separator: "\n") + "\n\n" + human }
        }
        return Reply(
            fields: [
                "runtimes": .array(json),
                "orphans": .array(orphans.map { ["session": .string($0.sessionName), "pane": .string($0.paneID), "pid": .int(Int64($0.panePID))] }),
                "tmux": .string(snapshot == nil ? "unreachable" : (snapshot!.serverRunning ? "running" : "not_running")),
                "host_incidents": .array(listing.incidents.map(\.json)),
            ],
            human: human)
    }
}
