public import Logging
public import MCRunCore
public import ServiceLifecycle

/// Delivers queued `send --queue` messages when their agent is next idle. Agents with
/// activity hooks drain their queue themselves on `hook activity idle`; for agents without
/// hooks, idleness is read from pane activity, so someone must look: serve does, every
/// `intervalMilliseconds`, and only for runtimes that have messages waiting.
public final class SendQueueDrainer: Service, Sendable {
    let context: MCRunContext
    let intervalMilliseconds: Int
    let logger: Logger
    let loop: DedicatedLoop

    public init(context: MCRunContext, intervalMilliseconds: Int = 500, logger: Logger) throws(MCRunError) {
        self.context = context
        self.intervalMilliseconds = intervalMilliseconds
        self.logger = logger
        loop = try DedicatedLoop(name: "mcrun-send-queue")
    }

    public func run() async throws {
        await loop.run { [self] in
            pass()
            return .after(milliseconds: intervalMilliseconds)
        }
    }

    /// One look: deliveries noted as pasted but not recorded are recorded, those a dead
    /// sender left are settled (its tmux client killed), then one query for runtimes with
    /// pending messages, and at most one delivery each.
    func pass() {
        do {
            let settled = try Sender(context: context).settleAbandoned()
            if settled > 0 { logger.info("settled messages left by senders that died", metadata: ["runtimes": "\(settled)"]) }
        } catch {
            logger.warning("cannot settle messages left by senders that died: \(error.message)")
        }
        do {
            let recorded = try Sender(context: context).recordNotedPastes()
            if recorded > 0 { logger.info("recorded messages pasted by senders that could not write the ledger", metadata: ["count": "\(recorded)"]) }
        } catch {
            logger.warning("cannot record noted pastes: \(error.message)")
        }
        let waiting: [Int64]
        do {
            waiting = try context.ledger.runtimesWithPendingMessages()
        } catch {
            logger.warning("cannot read the send queue: \(error.message)")
            return
        }
        let sender = Sender(context: context)
        for runtimeID in waiting {
            do {
                if let delivered = try sender.deliverNext(runtimeID: runtimeID) {
                    logger.info("delivered a queued message", metadata: ["runtime_id": "\(runtimeID)", "event": "send", "queue_id": "\(delivered)"])
                }
            } catch {
                logger.warning("cannot deliver a queued message: \(error.message)", metadata: ["runtime_id": "\(runtimeID)", "event": "send"])
            }
        }
    }
}
