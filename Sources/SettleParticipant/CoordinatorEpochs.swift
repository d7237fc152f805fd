import PostgresClient
import SettleCore
import Synchronization

/// The highest lease epoch this participant has seen per coordinator id, kept in its database
/// (`settle_coordinator_epochs`) so every instance of the service and every restart agrees.
///
/// A Prepare whose gid carries an older epoch is refused: after a failover the deposed
/// coordinator must not prepare anything more. Only Prepare is fenced. Commit, Rollback and
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

    /// Records `gid`'s epoch when it is newer than any this process knows (in its own short
    /// transaction: a row lock held until COMMIT PREPARED would serialise every Prepare of that
    /// coordinator), and refuses a gid older than the highest recorded.
    func admit(_ gid: BranchGID, on connection: PostgresConnection) async throws {
        let epoch = gid.admission.epoch
        let knownEpoch = known.withLock { $0[gid.coordinatorID] }
        if let knownEpoch, epoch <= knownEpoch {
            try Self.refuseIfStale(gid, highest: Int64(knownEpoch))
            return
        }
        let rows = try await connection.query(Self.record, [gid.coordinatorID, Int64(epoch)])
        let highest = try rows[0].decode(Int64.self, column: "epoch")
        known.withLock { $0[gid.coordinatorID] = UInt32(clamping: highest) }
        try Self.refuseIfStale(gid, highest: highest)
    }

    static func refuseIfStale(_ gid: BranchGID, highest: Int64) throws {
        guard Int64(gid.admission.epoch) < highest else { return }
        throw ParticipantError(
            .staleEpoch,
            "\(gid) comes from epoch \(gid.admission.epoch) of coordinator \(gid.coordinatorID), but epoch \(highest) has taken "
                + "over: a deposed coordinator prepares nothing; nothing was done"
        )
    }
}
