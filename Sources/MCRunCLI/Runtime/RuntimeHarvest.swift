import ArgumentParser
import Foundation
import MCRunCore

struct RuntimeHarvest: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "harvest",
        abstract: "What an episode came to: its accepted verdict and payload, or the terminal record of how it ended.",
        discussion: """
            The terminal record (status, summary, root_cause, safe_retry, stop_condition,
            human_input_required, next_actions, artifacts) and the transcript tail are written when
            the runtime ends, so they survive log rotation. When the agent's hooks named its
            transcript (Claude Code's JSONL, Codex's rollout file) and it can be read, the tail is the agent's last
            message with text and the tool results after it; otherwise the clean pane log
            (transcript_source says which: agent_transcript, pane_log, saved_tail, last_screen).
            A live runtime silent longer than the harvest timeout (setting harvest_timeout,
            $MCRUN_HARVEST_TIMEOUT or --harvest-timeout) gets a record with status `silent`.

            EXAMPLES:
              mcrun harvest T-42
              mcrun harvest T-42 --episode 2 --json
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Ticket id.")
    var ticket: String

    @Option(parsing: .unconditional, help: "Episode (default: the latest).", transform: Bounded.integer(Bounded.episode))
    var episode: Int?

    @Option(
        parsing: .unconditional, help: "Treat a live runtime without pane output for this long as silent (e.g. 30m), 1ms to 8760h; overrides the setting.",
        transform: Bounded.duration(Bounded.harvestTimeout))
    var harvestTimeout: DurationArgument?

    @Option(
        parsing: .unconditional, help: "Lines of transcript tail, 0 to 1000000 (default \(PaneLog.defaultTailLines)).",
        transform: Bounded.integer(Bounded.lines))
    var lines: Int = PaneLog.defaultTailLines

    func execute() throws(MCRunError) -> Reply {
        let ticketID = try global.ticket(ticket)
        let context = try global.readContext()
        let runtime = try RuntimeLogs.find(context, ticket: ticketID, episode: episode)
        let facts = try context.ledger.harvestFacts(for: runtime, environment: context.environment)
        let (ticketRow, signal, configured) = (facts.ticket, facts.verdict, facts.harvestTimeout)
        let log = context.stateDirectory.paneLogPath(runtimeID: runtime.id!)
        var record: TerminalRecord?
        var tail: [String]
        var source = "pane_log"
        if runtime.state.isLive {
            let limit = harvestTimeout.map { Double($0.milliseconds) / 1000 } ?? configured
            let pane = limit == nil ? nil : (try? context.tmux.snapshot())?.pane(sessionName: runtime.sessionName)
            if let silence = HarvestTimeout.silence(runtime, pane: pane, logPath: log, limit: limit) {
                record = TerminalRecord.derive(runtime, ticket: ticketRow, silence: silence)
            }
            tail = PaneLog.tail(log, lines: lines)
        } else {
            record = runtime.terminalRecord ?? TerminalRecord.derive(runtime, ticket: ticketRow)
            if let saved = runtime.transcriptTail {
                tail = saved.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                source = "saved_tail"
            } else {
                tail = PaneLog.tail(log, lines: lines)
                if tail.isEmpty, let screen = runtime.lastScreen {
                    tail = screen.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                    source = "last_screen"
                }
            }
            tail = Array(tail.suffix(lines))
        }
        // The agent's own transcript, when it named one and it can be read, says what the
        // episode came to better than its screen.
        let transcript = runtime.agentTranscriptPath.flatMap(AgentTranscript.read)
        if let transcript {
            tail = Array(transcript.lines.suffix(lines))
            source = "agent_transcript"
        } else if tail.isEmpty {
            source = "none"
        }
        record = record?.locating(runtime, in: context.stateDirectory)
        let status = record?.status ?? (signal.map { "signalled_" + $0.kind.rawValue.lowercased() } ?? "running")

        var human: [String] = ["\(runtime.ticket) episode \(runtime.episode): \(status)"]
        if let signal {
            human.append("verdict: \(signal.kind.rawValue) (signal \(signal.id ?? 0)) \(signal.payload.jsonText)")
        }
        if let r = record {
            human.append("summary: \(r.summary)")
            human.append(
                "root cause: \(r.rootCause); stop condition: \(r.stopCondition.rawValue); safe retry: \(r.safeRetry ? "yes" : "no"); human input required: \(r.humanInputRequired ? "yes" : "no")"
            )
            human.append(contentsOf: r.nextActions.map { "next: \($0)" })
            let exit = r.artifacts.exitSignal.map { "signal \($0)" } ?? r.artifacts.exitCode.map { "code \($0)" } ?? "unknown"
            human.append(
                "artifacts: log \(r.artifacts.log ?? "-"), raw \(r.artifacts.rawLog ?? "-"), exit \(exit), leftovers killed \(r.artifacts.leftoversKilled)")
        }
        if !tail.isEmpty {
            let from = transcript != nil ? "the agent's transcript \(runtime.agentTranscriptPath ?? "")" : source.replacingOccurrences(of: "_", with: " ")
            human.append("--- last \(tail.count) line\(tail.count == 1 ? "" : "s"), from \(from) ---")
            human.append(contentsOf: tail)
        }
        var recordJSON: JSONValue = .null
        if let record, let data = try? JSONEncoder().encode(record), let value = JSONValue.parse(String(decoding: data, as: UTF8.self)) {
            recordJSON = value
        }
        return Reply(
            fields: [
                "status": .string(status), "runtime": RuntimeView.json(runtime, ticket: ticketRow),
                "verdict": signal.map { ["kind": .string($0.kind.rawValue), "payload": $0.payload, "signal_id": JSONValue($0.id), "at": .double($0.at)] }
                    ?? .null,
                "record": recordJSON, "transcript_tail": JSONValue(tail), "transcript_source": .string(source),
                "agent_transcript": transcript.map {
                    [
                        "path": JSONValue(runtime.agentTranscriptPath), "last_assistant_message": .string($0.lastAssistantMessage),
                        "tool_results": JSONValue($0.toolResults),
                    ]
                } ?? .null,
            ],
            human: human.joined(separator: "\n"))
    }
}
