import Foundation
import PostgresClient
import SettleCore

/// The invariants `tools/chaos --failover` adds: no decision sealed under a stale epoch, no
/// Prepare accepted from one, every failover fault happened, and every deposed coordinator
/// stopped by itself.
struct FailoverChecks {
    let deployment: ChaosDeployment
    let failover: ChaosFailover
    let schedule: FailoverFaultSchedule

    /// A Prepare's transaction may begin up to this long after the epoch row it will read was
    /// written but before that write committed; later than this, it must have seen it.
    static let commitSlackMicroseconds: Int64 = 100_000

    func results() async throws -> [InvariantChecks.Result] {
        [try await sealedEpochsNeverGoBack(), try await noPrepareFromAStaleEpoch(), coverage()]
    }

    /// Seal by seal, the lease epoch that sealed each batch never decreases: a batch sealed by a
    /// deposed coordinator after its successor's would show an older epoch after a newer one.
    private func sealedEpochsNeverGoBack() async throws -> InvariantChecks.Result {
        let connection = try await PostgresConnection.connect(to: failover.logURL)
        let rows = try await connection.query(
            "SELECT seal_number, epoch FROM settle_log_batches WHERE log_name = $1 ORDER BY seal_number", [ChaosDeployment.coordinatorID]
        )
        await connection.close()
        var failures: [String] = []
        var highest: Int64 = 0
        for row in rows {
            let (seal, epoch) = (try row.decode(Int64.self, column: "seal_number"), try row.decode(Int64.self, column: "epoch"))
            if epoch < highest { failures.append("seal \(seal) was made under epoch \(epoch) after epoch \(highest) had sealed") }
            highest = max(highest, epoch)
        }
        return InvariantChecks.Result(
            name: "no decision sealed under a stale epoch", failures: failures, detail: "\(rows.count) seals, epochs 1 to \(highest)"
        )
    }

    /// No bank prepared a branch sent under an epoch older than one it had already recorded (the
    /// Prepare's own claim row, `digest` set, keeps its `sender_epoch`, and began after the newer
    /// epoch's row).
    private func noPrepareFromAStaleEpoch() async throws -> InvariantChecks.Result {
        let firstSeen = schedule.firstSeen.withLock { $0 }
        var failures: [String] = []
        var checked = 0
        for (bank, pool) in deployment.pools.enumerated() {
            let rows = try await pool.query(
                """
                SELECT gid, sender_epoch, (extract(epoch FROM created_at) * 1000000)::bigint AS began FROM settle_barrier
                WHERE op = 'action' AND digest IS NOT NULL AND starts_with(gid, $1)
                """,
                [try BranchGID.prefix(coordinatorID: ChaosDeployment.coordinatorID)]
            )
            for row in rows {
                let gid = try BranchGID(parsing: try row.decode(String.self, column: "gid"))
                let began = try row.decode(Int64.self, column: "began")
                // The epoch the Prepare was sent under: a successor re-prepares older gids.
                let sender = try row.decode(Int64?.self, column: "sender_epoch") ?? Int64(gid.admission.epoch)
                checked += 1
                let newer = firstSeen[bank].filter { $0.key > sender && $0.value + Self.commitSlackMicroseconds < began }
                if let (epoch, _) = newer.min(by: { $0.key < $1.key }) {
                    failures.append(
                        "\(ChaosDeployment.bankNames[bank]) prepared \(gid), sent under epoch \(sender), after it had recorded epoch \(epoch)")
                }
            }
        }
        let epochs = Set(firstSeen.flatMap(\.keys)).sorted()
        return InvariantChecks.Result(
            name: "no Prepare accepted from a stale epoch", failures: failures,
            detail: "\(checked) prepared branches, epochs seen by the banks \(epochs)"
        )
    }

    private func coverage() -> InvariantChecks.Result {
        let tally = schedule.tally.withLock { $0 }
        var failures = tally.failures
        if tally.activeKills == 0 { failures.append("the active coordinator was never killed") }
        if tally.pauses == 0 { failures.append("the active coordinator was never paused past its lease") }
        if tally.databaseFailovers == 0 { failures.append("the log's database never failed over") }
        return InvariantChecks.Result(
            name: "every failover fault happened, a standby took over each time, and every deposed coordinator exited by itself",
            failures: failures,
            detail: "active killed \(tally.activeKills), paused \(tally.pauses) (exited deposed \(tally.deposedExits)), "
                + "log database failed over \(tally.databaseFailovers), takeovers \(tally.takeovers.count)"
        )
    }
}
