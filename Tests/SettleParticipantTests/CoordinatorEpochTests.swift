import ExampleBank
import Foundation
import GRPCCore
import PostgresClient
import SettleProtocol
import SettleTestSupport
import Testing

/// A participant refuses Prepares from a coordinator that a failover deposed (issue "Failover",
/// part 3): gids carry the lease's epoch, and the highest seen per coordinator id is kept in the
/// participant's database.
@Suite(.timeLimit(.minutes(5)))
struct CoordinatorEpochTests {
    func gid(_ transfer: String, epoch: Int) -> String { "settle:test-coordinator:\(epoch):0000000000000001:\(transfer):0" }

    @Test func aPrepareFromAnOlderEpochIsRefusedAndPhaseTwoOfItsSealedDecisionsStillWorks() async throws {
        try await withBank { bank throws in
            #expect(try await bank.client.prepare(gid("old", epoch: 1), "debit", movement("a", 100)).outcome == .prepared)
            #expect(try await bank.client.prepare(gid("new", epoch: 2), "debit", movement("b", 10)).outcome == .prepared)

            await #expect {
                _ = try await bank.client.prepare(gid("late", epoch: 1), "debit", movement("a", 1))
            } throws: { error in
                (error as? RPCError)?.code == .failedPrecondition && "\(error)".contains("epoch 2 has taken over")
            }
            #expect(try await bank.postings(gid("late", epoch: 1)).isEmpty)
            #expect(try await bank.barrier(gid("late", epoch: 1)).isEmpty, "nothing was claimed")

            // The successor finishes the old epoch's branch with a signed decision.
            #expect(try await bank.client.commit(gid("old", epoch: 1)) == .committed)
            #expect(try await bank.client.commit(gid("new", epoch: 2)) == .committed)
            #expect(try await bank.balance("a") == 900)
            #expect(try await bank.balance("b") == 490)
            let recorded = try await bank.pool.query(
                "SELECT epoch FROM settle_coordinator_epochs WHERE coordinator_id = 'test-coordinator'"
            )
            #expect(try recorded.map { try $0.decode(Int64.self, column: 0) } == [2])
        }
    }

    @Test func anEpochRecordedByAnotherInstanceIsHonouredWithoutARestart() async throws {
        try await withBank { bank throws in
            #expect(try await bank.client.prepare(gid("first", epoch: 3), "debit", movement("a", 1)).outcome == .prepared)
            // Another instance of the service (same database) saw the successor's epoch first.
            try await bank.pool.query("UPDATE settle_coordinator_epochs SET epoch = 4 WHERE coordinator_id = 'test-coordinator'")
            await #expect(throws: RPCError.self) {
                _ = try await bank.client.prepare(gid("second", epoch: 3), "debit", movement("b", 1))
            }
            #expect(try await bank.client.rollback(gid("first", epoch: 3)) == .rolledBack)
        }
    }

    /// A successor re-prepares its predecessor's gids (a saga re-driven after the takeover, a
    /// branch found rolled back after COMMIT): the sender's epoch is what counts, not the gid's.
    @Test func aSuccessorMayRePrepareAnOlderEpochsGidButADeposedSenderMayNot() async throws {
        try await withBank { bank throws in
            #expect(try await bank.client.prepare(gid("new", epoch: 5), "debit", movement("a", 1), senderEpoch: 5).outcome == .prepared)
            let redriven = try await bank.client.prepare(gid("redriven", epoch: 4), "debit", movement("b", 2), senderEpoch: 5)
            #expect(redriven.outcome == .prepared, "the successor (epoch 5) re-drives a gid of epoch 4")
            let kept = try await bank.pool.query(
                "SELECT sender_epoch FROM settle_barrier WHERE gid = $1 AND op = 'action'", [gid("redriven", epoch: 4)]
            )
            #expect(kept.isEmpty, "the claim row is the prepared transaction's, invisible until it commits")
            await #expect {
                _ = try await bank.client.prepare(gid("late", epoch: 4), "credit", movement("b", 3), senderEpoch: 4)
            } throws: { error in
                (error as? RPCError)?.code == .failedPrecondition && "\(error)".contains("epoch 5 has taken over")
            }
            await #expect(throws: RPCError.self, "a malformed epoch header is refused") {
                _ = try await bank.client.prepare(gid("odd", epoch: 5), "credit", movement("b", 3), senderEpoch: 0)
            }
            #expect(try await bank.client.rollback(gid("new", epoch: 5)) == .rolledBack)
            #expect(try await bank.client.commit(gid("redriven", epoch: 4)) == .committed)
            let evidence = try await bank.pool.query(
                "SELECT sender_epoch FROM settle_barrier WHERE gid = $1 AND op = 'action'", [gid("redriven", epoch: 4)]
            )
            #expect(try evidence.map { try $0.decode(Int64.self, column: 0) } == [5], "the barrier keeps the epoch it was sent under")
        }
    }
}
