import PostgresClient
import SettleCore
import Synchronization

/// Writes the coordinator's orders onto committed barrier rows, many commits' orders in one round
/// trip and one transaction.
///
/// Each order must be durable before its Commit is answered (so every commit the coordinator saw
/// answered carries its evidence), and written one by one that was a transaction, a WAL flush and
/// a round trip per branch beside its `COMMIT PREPARED`. Here the orders that arrive while a batch
/// is being written go together in the next (`LeaderBatching`). At most one batch is in flight
/// per participant; its write runs in a task of its own, bounded by the barrier's lock and
/// statement timeouts.
final class CommitOrderRecorder: Sendable {
    /// Past this many orders a batch is cut: one pipeline stays short.
    static let batchOrdersMax = 256

    private let batching: LeaderBatching<(gid: String, order: OrderEvidence), Void>

    /// Batches written (or tried): what shows, in tests, that orders shared them.
    var batchesWritten: Int { batching.batches.load(ordering: .relaxed) }

    /// The bounds keep one batch stuck on a lock or a dead connection from holding every Commit of
    /// this participant, not one.
    init(pool: PostgresPool, lockTimeout: Duration, statementTimeout: Duration) {
        batching = LeaderBatching(batchItemsMax: Self.batchOrdersMax) { orders in
            // A task of its own: the leader's cancellation (its command's deadline) must not cut
            // off a write that holds others' orders too.
            try await Task {
                try await Self.write(orders, on: pool, lockTimeout: lockTimeout, statementTimeout: statementTimeout)
            }
            .value
            return Array(repeating: (), count: orders.count)
        }
    }

    /// Returns once `order` is durable on `gid`'s action row (or was already there: the first
    /// order wins, and every retry carries the same decision). A failed batch fails every order
    /// in it; each Commit is then retried, finds its branch committed and records the order
    /// again.
    func record(gid: String, order: OrderEvidence) async throws {
        try await batching.submit((gid, order))
    }

    /// One statement per order, pipelined: with no `BEGIN`, one implicit transaction, so either
    /// every order is written or none. Sorted by gid, so two batches touching the same rows (two
    /// processes of one service) lock them in the same order.
    private static func write(
        _ orders: [(gid: String, order: OrderEvidence)], on pool: PostgresPool, lockTimeout: Duration, statementTimeout: Duration
    ) async throws {
        let bounds = BarrierSQL.setLocalTimeouts(lock: lockTimeout, statement: statementTimeout)
        let statements =
            [bounds]
            + orders.sorted { $0.gid < $1.gid }.map {
                PostgresStatement(BarrierSQL.recordCommitOrder, [$0.gid, $0.order.storedLSN, $0.order.signature])
            }
        for result in try await pool.withConnection({ try await $0.pipeline(statements) }) { _ = try result.get() }
    }
}
