import PostgresClient
import Synchronization

/// Writes the coordinator's orders onto committed barrier rows, many commits' orders in one round
/// trip and one transaction.
///
/// Each order must be durable before its Commit is answered (so every commit the coordinator saw
/// answered carries its evidence), and written one by one that was a transaction, a WAL flush and
/// a round trip per branch beside its `COMMIT PREPARED`. Here the first commit to arrive while no
/// batch is being written leads: it writes every order that is waiting, then hands the lead to
/// one that arrived meanwhile. At most one batch is in flight per participant; its write runs in
/// a task of its own, bounded by the barrier's lock and statement timeouts.
final class CommitOrderRecorder: Sendable {
    /// Past this many orders a batch is cut: one pipeline stays short.
    static let batchOrdersMax = 256

    private struct Pending {
        let gid: String
        let order: OrderEvidence
        let continuation: CheckedContinuation<Role, any Error>
    }

    private enum Role {
        case recorded
        case lead
    }

    private struct State {
        var pending: [Pending] = []
        var leading = false
    }

    private let pool: PostgresPool
    /// Bounds on each batch: one batch stuck on a lock or a dead connection would hold every
    /// Commit of this participant, not one.
    private let lockTimeout: Duration
    private let statementTimeout: Duration
    private let state = Mutex(State())
    /// Batches written (or tried): what shows, in tests, that orders shared them.
    let batchesWritten = Atomic(0)

    init(pool: PostgresPool, lockTimeout: Duration, statementTimeout: Duration) {
        self.pool = pool
        self.lockTimeout = lockTimeout
        self.statementTimeout = statementTimeout
    }

    /// Returns once `order` is durable on `gid`'s action row (or was already there: the first
    /// order wins, and every retry carries the same decision). A failed batch fails every order
    /// in it; each Commit is then retried, finds its branch committed and records the order
    /// again. A caller's cancellation (its command's deadline) does not reach the batch it leads,
    /// which holds others' orders too.
    func record(gid: String, order: OrderEvidence) async throws {
        let role = try await withCheckedThrowingContinuation { continuation in
            let leadNow = state.withLock { state -> Bool in
                guard !state.leading else {
                    state.pending.append(Pending(gid: gid, order: order, continuation: continuation))
                    return false
                }
                state.leading = true
                return true
            }
            if leadNow { continuation.resume(returning: .lead) }
        }
        if role == .lead { try await writeBatch(leadersOwn: (gid, order)) }
    }

    /// Writes the leader's order with what is waiting, answers the others, and passes the lead
    /// on to the first order that arrived meanwhile, if any.
    private func writeBatch(leadersOwn: (gid: String, order: OrderEvidence)) async throws {
        let others = state.withLock { state -> [Pending] in
            let count = min(state.pending.count, Self.batchOrdersMax - 1)
            defer { state.pending.removeFirst(count) }
            return Array(state.pending.prefix(count))
        }
        let orders = [leadersOwn] + others.map { ($0.gid, $0.order) }
        batchesWritten.add(1, ordering: .relaxed)
        let outcome = await Task { [pool, lockTimeout, statementTimeout] in
            try await Self.write(orders, on: pool, lockTimeout: lockTimeout, statementTimeout: statementTimeout)
        }
        .result
        let nextLeader = state.withLock { state -> Pending? in
            guard !state.pending.isEmpty else {
                state.leading = false
                return nil
            }
            return state.pending.removeFirst()
        }
        for pending in others {
            switch outcome {
            case .success: pending.continuation.resume(returning: .recorded)
            case .failure(let error): pending.continuation.resume(throwing: error)
            }
        }
        nextLeader?.continuation.resume(returning: .lead)
        _ = try outcome.get()
    }
}

extension CommitOrderRecorder {
    /// One statement per order, pipelined: with no `BEGIN`, one implicit transaction, so either
    /// every order is written or none. Sorted by gid, so two batches touching the same rows (two
    /// processes of one service) lock them in the same order.
    fileprivate static func write(
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
