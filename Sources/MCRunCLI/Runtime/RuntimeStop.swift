import ArgumentParser
import Foundation
import Glibc
import MCRunCore

struct RuntimeStop: MCRunCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop a ticket's runtime: signal, grace period, SIGKILL, kill leftovers, remove the session.",
        discussion: """
            Stopping a runtime that already ended is not an error and changes nothing. When the
            ledger cannot be written (a full disk, a read-only ledger, a lock held by another
            process) the agent is stopped all the same and the command exits 8 (stop_unrecorded),
            saying what was not recorded; the stop is recorded, as a stop, once the ledger can be
            written.
            --all stops every live runtime at once (each recorded as a stop, never a
            death); a runtime that could not be stopped is reported on a line of its own
            and the command exits 1. mcrun-tmux.service runs `stop --all --exec-stop` as its
            ExecStop=, so stopping the unit records stops before systemd kills the server:
            with --exec-stop, when systemd says the unit's main process has already exited
            ($EXIT_CODE set: the tmux server crashed), nothing is stopped, because serve
            records that loss as a host incident and relaunches the runtimes once the
            server is back.

            EXAMPLES:
              mcrun stop T-42 --reason "superseded"
              mcrun stop T-42 --grace 30s --interrupt-key C-c
              mcrun stop --all --reason "host maintenance"
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Ticket id (or --all).")
    var ticket: String?

    @Flag(help: "Stop every live runtime of the state directory.")
    var all = false

    @Flag(help: "Run as a unit's ExecStop=: do nothing when the unit's main process has already exited ($EXIT_CODE set).")
    var execStop = false

    @Option(help: "Why it is stopped (recorded).")
    var reason: String = "requested"

    @Option(
        parsing: .unconditional, help: "How long the agent gets to exit before SIGKILL, 0s to 24h (e.g. 10s, 500ms; default 10s).",
        transform: Bounded.duration(Bounded.grace))
    var grace = DurationArgument(milliseconds: 10_000)

    @Option(help: "Signal sent first: TERM, INT, HUP or QUIT.")
    var signal: StopSignal = .term

    @Option(help: "A tmux key sent to the pane before the signal (e.g. C-c), for agents that exit on it.")
    var interruptKey: String?

    func validate() throws {
        guard all != (ticket != nil) else { throw ValidationError("give a ticket id or --all, not both or neither") }
        guard !execStop || all else { throw ValidationError("--exec-stop goes with --all") }
    }

    func execute() throws(MCRunError) -> Reply {
        let options = Stopper.Options(reason: reason, graceMilliseconds: grace.milliseconds, signal: signal.number, interruptKey: interruptKey)
        if all { return try stopAll(options) }
        let ticketID = try global.ticket(ticket ?? "")
        let context = try global.actingContext()
        let outcome = try Stopper(context: context).stop(ticket: ticketID, options: options)
        let r = outcome.runtime
        let human =
            outcome.diedFirst
            ? "\(r.ticket) episode \(r.episode) had died before the stop (\(r.exitSignal.map { "killed by signal \($0)" } ?? r.exitCode.map { "exit code \($0)" } ?? "exit status unknown")); its death is now recorded"
            : outcome.alreadyEnded
                ? "\(r.ticket) episode \(r.episode) had already ended (\(r.state.rawValue)); nothing changed"
                : "stopped \(r.ticket) episode \(r.episode)\(r.exitSignal.map { ", agent killed by signal \($0)" } ?? r.exitCode.map { ", agent exited \($0)" } ?? ""); leftovers killed: \(r.leftoversKilled ?? 0)"
        return Reply(
            fields: [
                "runtime": RuntimeView.json(r), "already_ended": .bool(outcome.alreadyEnded), "died_first": .bool(outcome.diedFirst),
                "retry_cancelled": .bool(outcome.retryCancelled),
            ],
            human: human + (outcome.retryCancelled ? "; its pending relaunch was cancelled" : ""))
    }
}

extension RuntimeStop {
    /// Every live runtime, each stopped on a thread of its own so the grace periods run side
    /// by side (a unit's ExecStop= has TimeoutStopSec= for all of them).
    func stopAll(_ options: Stopper.Options) throws(MCRunError) -> Reply {
        let env = MCRunContext.processEnvironment()
        if execStop, let exit = env["EXIT_CODE"], !exit.isEmpty {
            return Reply(
                fields: ["stopped": .array([]), "skipped": true, "reason": "main_process_exited"],
                human: "the unit's main process has already exited (\(exit)\(env["EXIT_STATUS"].map { " \($0)" } ?? "")): not a stop; nothing stopped")
        }
        let context = try global.actingContext()
        let tickets = Array(Set(try context.ledger.liveRuntimes().map(\.ticket))).sorted()
        let results = StopResults()
        let group = DispatchGroup()
        for ticket in tickets {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                do throws(MCRunError) {
                    let id = try TicketID(validating: ticket)
                    let outcome = try Stopper(context: context).stop(ticket: id, options: options)
                    results.add(ticket, .success(outcome.runtime))
                } catch {
                    results.add(ticket, .failure(error))
                }
            }
            thread.start()
        }
        group.wait()
        let done = results.all
        let failed = done.compactMap { ticket, result -> String? in
            if case .failure(let error) = result { return "\(ticket): \(error.message)" }
            return nil
        }
        let stopped = done.compactMap { ticket, result -> JSONValue? in
            if case .success(let runtime) = result { return RuntimeView.json(runtime) }
            return nil
        }
        if !failed.isEmpty {
            throw MCRunError(
                .internalError, "stop_failed",
                "\(failed.count) of \(tickets.count) runtimes could not be stopped:\n" + failed.joined(separator: "\n"))
        }
        return Reply(
            fields: ["stopped": .array(stopped), "skipped": false],
            human: tickets.isEmpty
                ? "no live runtimes; nothing stopped" : "stopped \(tickets.count) runtime\(tickets.count == 1 ? "" : "s"): \(tickets.joined(separator: ", "))")
    }
}

/// What each stop of `stop --all` ended with, collected from their threads.
private final class StopResults: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [(String, Result<Runtime, MCRunError>)] = []

    func add(_ ticket: String, _ result: Result<Runtime, MCRunError>) {
        lock.lock()
        results.append((ticket, result))
        lock.unlock()
    }

    var all: [(String, Result<Runtime, MCRunError>)] {
        lock.lock()
        defer { lock.unlock() }
        return results.sorted { $0.0 < $1.0 }
    }
}

enum StopSignal: String, ExpressibleByArgument, CaseIterable, Sendable {
    case term = "TERM"
    case int = "INT"
    case hup = "HUP"
    case quit = "QUIT"

    init?(argument: String) {
        let name = argument.uppercased()
        self.init(rawValue: name.hasPrefix("SIG") ? String(name.dropFirst(3)) : name)
    }

    var number: Int32 {
        switch self {
        case .term: SIGTERM
        case .int: SIGINT
        case .hup: SIGHUP
        case .quit: SIGQUIT
        }
    }
}
