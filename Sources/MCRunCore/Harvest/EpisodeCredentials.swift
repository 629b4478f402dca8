import GRDB

/// What an agent presents when it reports something about itself (activity, DONE):
/// its ticket, episode and nonce, from the environment the shim gave it.
public struct EpisodeCredentials: Sendable, Equatable {
    public var ticket: TicketID
    public var episode: Int
    public var nonce: String

    public init(ticket: TicketID, episode: Int, nonce: String) {
        self.ticket = ticket
        self.episode = episode
        self.nonce = nonce
    }

    /// From `MCRUN_TICKET`, `MCRUN_EPISODE`, `MCRUN_NONCE`.
    public static func fromEnvironment(_ env: [String: String]) throws(MCRunError) -> EpisodeCredentials {
        guard let t = env["MCRUN_TICKET"], let e = env["MCRUN_EPISODE"].flatMap(Int.init), let n = env["MCRUN_NONCE"] else {
            throw .badInput(
                "no_episode",
                "MCRUN_TICKET, MCRUN_EPISODE and MCRUN_NONCE are not set; run this inside an mcrun runtime or pass --ticket, --episode and --nonce")
        }
        return EpisodeCredentials(ticket: try TicketID(validating: t), episode: e, nonce: n)
    }

    /// Why a report from an episode is not the live episode's word.
    public enum Rejection: String, Error, Sendable, Codable {
        case badNonce = "bad_nonce"
        case staleEpisode = "stale_episode"
        case ticketParked = "ticket_parked"
        case runtimeEnded = "runtime_ended"
        case unknownEpisode = "unknown_episode"
    }

    /// Checks the credentials against the ledger inside `db`'s transaction. On success the
    /// runtime is the ticket's live, executing episode the credentials belong to.
    func verify(_ db: Database) throws -> Result<Runtime, Rejection> {
        guard let runtime = try Ledger.runtime(db, ticket: ticket.rawValue, episode: episode) else {
            return .failure(.unknownEpisode)
        }
        // Constant-time compare: the nonce is a secret.
        guard Self.secretsEqual(runtime.nonce, nonce) else { return .failure(.badNonce) }
        if let t = try Ledger.ticket(db, id: ticket.rawValue), t.parked { return .failure(.ticketParked) }
        if let latest = try Ledger.latestRuntime(db, ticket: ticket.rawValue), latest.episode > episode {
            return .failure(.staleEpisode)
        }
        guard runtime.state == .running else { return .failure(.runtimeEnded) }
        return .success(runtime)
    }

    static func secretsEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}
