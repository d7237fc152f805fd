import PostgresClient
import SettleCore
import Synchronization

/// The highest lease epoch this participant has seen per coordinator id, kept in its database
/// (`settle_coordinator_epochs`) so every instance of the service and every restart agrees.
///
/// A Prepare sent under an older epoch is refused: after a failover the deposed coordinator must
/// not prepare anything more. The epoch is the sender's (its `settle-coordinator-epoch` header;
/// the gid's when absent), not the gid's: a successor re-prepares its predecessor's gids (a saga
/// re-driven after takeover, a branch found rolled back after COMMIT) under its own epoch. Only Prepare is fenced. Commit, Rollback and
/// Compensate from an older epoch carry the coordinator's signature over a sealed decision's
/// LSN, and a sealed decision stays true whoever sealed it; the successor re-drives the same
/// decisions with the same gids (README, "Running Settle with failover").
final class CoordinatorEpochs: Sendable {
    /// What this process last wrote or read, to skip the write when nothing is new.
    private let known = Mutex<[String: UInt32]>([:])

    /// Checked in the Prepare's own transaction, without locking: another instance may have
    /// recorded a newer epoch since this one last looked.
    static let highest = "SELECT coalesce((SELECT epoch FROM settle_coordinator_epochs WHERE coordinator_id = $1), 0) AS epoch"

    static let record = """
        INSERT INTO settle_coordinator_epochs AS seen (coordinator_id, epoch) VALUES ($1, $2)
        ON CONFLICT (coordinator_id) DO UPDATE SET epoch = greatest(seen.epoch, excluded.epoch), seen_at = now()
        RETURNING epoch
        """

    /// Who sends a Prepare: the coordinator id (from the gid, which the caller's credential is
    /// limited to) and the lease epoch it acts under.
    struct Sender: Sendable {
        let coordinatorID: String
        let epoch: UInt32
    }

    /// Records the sender's epoch when it is newer than any this process knows (in its own short
    /// transaction: a row lock held until COMMIT PREPARED would serialise every Prepare of that
    /// coordinator), and refuses a sender older than the highest recorded.
    func admit(_ sender: Sender, gid: String, on connection: PostgresConnection) async throws {
        let knownEpoch = known.withLock { $0[sender.coordinatorID] }
        if let knownEpoch, sender.epoch <= knownEpoch {
            try Self.refuseIfStale(sender, gid: gid, highest: Int64(knownEpoch))
            return
        }
        let rows = try await connection.query(Self.record, [sender.coordinatorID, Int64(sender.epoch)])
        let highest = try rows[0].decode(Int64.self, column: "epoch")
        known.withLock { $0[sender.coordinatorID] = UInt32(clamping: highest) }
        try Self.refuseIfStale(sender, gid: gid, highest: highest)
    }

    static func refuseIfStale(_ sender: Sender, gid: String, highest: Int64) throws {
        guard Int64(sender.epoch) < highest else { return }
        throw ParticipantError(
            .staleEpoch,
            "the Prepare of \(gid) comes from epoch \(sender.epoch) of coordinator \(sender.coordinatorID), but epoch \(highest) "
                + "has taken over: a deposed coordinator prepares nothing; nothing was done"
        )
    }
}
