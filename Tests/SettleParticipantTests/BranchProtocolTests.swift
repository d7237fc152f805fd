import ExampleBank
import Foundation
import GRPCCore
import PostgresClient
import SettleProtocol
import SettleTestSupport
import Testing

/// Each behaviour of protocol/settle/v1/participant.proto, over real gRPC against a real
/// database, asserting both the answer and what the database holds afterwards.
@Suite("participant protocol behaviours", .timeLimit(.minutes(5)))
struct BranchProtocolTests {
    @Test func prepareHoldsTheWorkAndCommitApplies() async throws {
        try await withBank { bank throws in
            let answer = try await bank.client.prepare(gid("t1"), "debit", movement("a", 100))
            #expect(answer.outcome == .prepared)
            #expect(try await bank.prepared() == [gid("t1")])
            // Prepared, not committed: other sessions still see the old balance.
            #expect(try await bank.balance("a") == 1000)
            #expect(try await bank.client.commit(gid("t1")) == .committed)
            #expect(try await bank.balance("a") == 900)
            #expect(try await bank.prepared().isEmpty)
            #expect(try await bank.barrier(gid("t1")) == ["action"])
            #expect(try await bank.postings(gid("t1")) == ["debit"])
        }
    }

    @Test func prepareOfAPreparedGIDAnswersPreparedWithoutRunningTheActionAgain() async throws {
        try await withBank { bank throws in
            #expect(try await bank.client.prepare(gid("t2"), "debit", movement("a", 100)).outcome == .prepared)
            #expect(try await bank.client.prepare(gid("t2"), "debit", movement("a", 100)).outcome == .prepared)
            #expect(try await bank.prepared() == [gid("t2")])
            #expect(try await bank.client.commit(gid("t2")) == .committed)
            #expect(try await bank.balance("a") == 900, "the action ran once")
            // After the commit, a straggling duplicate Prepare still answers prepared and changes nothing.
            #expect(try await bank.client.prepare(gid("t2"), "debit", movement("a", 100)).outcome == .prepared)
            #expect(try await bank.balance("a") == 900)
            #expect(try await bank.prepared().isEmpty)
        }
    }

    @Test func prepareAfterCancellationIsRefusedAndNeverRuns() async throws {
        try await withBank { bank throws in
            #expect(try await bank.client.rollback(gid("t3")) == .rolledBack)
            #expect(try await bank.barrier(gid("t3")) == ["action", "cancelled"])
            let late = try await bank.client.prepare(gid("t3"), "debit", movement("a", 100))
            #expect(late.outcome == .refused)
            #expect(late.refusalKind == .cancelled)
            #expect(try await bank.balance("a") == 1000)
            #expect(try await bank.postings(gid("t3")).isEmpty)
            #expect(try await bank.prepared().isEmpty)
        }
    }

    @Test func commitOfACommittedGIDAnswersCommitted() async throws {
        try await withBank { bank throws in
            _ = try await bank.client.prepare(gid("t4"), "credit", movement("b", 25))
            #expect(try await bank.client.commit(gid("t4")) == .committed)
            #expect(try await bank.client.commit(gid("t4")) == .committed)
            #expect(try await bank.balance("b") == 525)
        }
    }

    @Test func commitAfterAManualRollbackPreparedIsAHeuristicRollback() async throws {
        try await withBank { bank throws in
            _ = try await bank.client.prepare(gid("t5"), "debit", movement("a", 100))
            try await bank.pool.withConnection { try await $0.rollbackPrepared(gid: gid("t5")) }
            #expect(try await bank.client.commit(gid("t5")) == .heuristicRollback)
            #expect(try await bank.balance("a") == 1000)
            #expect(try await bank.barrier(gid("t5")).isEmpty)
            // Never prepared at all: the same answer.
            #expect(try await bank.client.commit(gid("never")) == .heuristicRollback)
        }
    }

    /// A prepared branch rolled back behind the library's back (a DBA's ROLLBACK PREPARED, or
    /// another instance of the service that answered the Commit) leaves no trace in the barrier;
    /// a Prepare of it again must prepare it again, not trust this process's memory of it and
    /// retry for ever (found by a review: the answer was ABORTED after every retry).
    @Test func aPrepareAgainAfterAManualRollbackPreparedPreparesAgain() async throws {
        try await withBank { bank throws in
            #expect(try await bank.client.prepare(gid("t5b"), "debit", movement("a", 100)).outcome == .prepared)
            try await bank.pool.withConnection { try await $0.rollbackPrepared(gid: gid("t5b")) }
            #expect(try await bank.client.prepare(gid("t5b"), "debit", movement("a", 100)).outcome == .prepared)
            #expect(try await bank.prepared() == [gid("t5b")])
            #expect(try await bank.client.commit(gid("t5b")) == .committed)
            #expect(try await bank.balance("a") == 900, "the action ran once more, and committed once")
        }
    }

    @Test func rollbackOfAPreparedGIDRollsBackAndCancels() async throws {
        try await withBank { bank throws in
            _ = try await bank.client.prepare(gid("t6"), "debit", movement("a", 100))
            #expect(try await bank.client.rollback(gid("t6")) == .rolledBack)
            #expect(try await bank.prepared().isEmpty)
            #expect(try await bank.balance("a") == 1000)
            #expect(try await bank.barrier(gid("t6")) == ["action", "cancelled"])
            #expect(try await bank.client.rollback(gid("t6")) == .rolledBack, "idempotent")
            let late = try await bank.client.prepare(gid("t6"), "debit", movement("a", 100))
            #expect(late.refusalKind == .cancelled)
            #expect(try await bank.client.commit(gid("t6")) == .heuristicRollback)
        }
    }

    @Test func rollbackAfterCommitChangesNothing() async throws {
        try await withBank { bank throws in
            _ = try await bank.client.prepare(gid("t7"), "debit", movement("a", 100))
            _ = try await bank.client.commit(gid("t7"))
            #expect(try await bank.client.rollback(gid("t7")) == .alreadyCommitted)
            #expect(try await bank.balance("a") == 900)
            #expect(try await bank.barrier(gid("t7")) == ["action"])
        }
    }

    @Test func aBusinessRefusalRollsBackAndSaysWhy() async throws {
        try await withBank { bank throws in
            let answer = try await bank.client.prepare(gid("t8"), "debit", movement("b", 501))
            #expect(answer.outcome == .refused)
            #expect(answer.refusalKind == .business)
            #expect(answer.reason.contains("insufficient funds"))
            #expect(try await bank.prepared().isEmpty)
            #expect(try await bank.barrier(gid("t8")).isEmpty)
            #expect(try await bank.balance("b") == 500)
            let unknown = try await bank.client.prepare(gid("t8b"), "credit", movement("nobody", 1))
            #expect(unknown.reason.contains("unknown account"))
        }
    }

    /// ExampleBank sends a movement and its posting in one round trip: whichever statement fails
    /// or takes nothing, the answer names the business reason, and nothing is kept.
    @Test func everyRefusalOfAPipelinedMovementSaysWhyAndKeepsNothing() async throws {
        try await withBank { bank throws in
            try await bank.pool.query("UPDATE accounts SET balance = 9223372036854775000 WHERE id = 'b'")
            let cases: [(String, String, Data, String)] = [
                ("u1", "debit", movement("nobody", 1), "unknown account nobody"),
                ("u2", "credit", movement("nobody", 1), "unknown account nobody"),
                ("u3", "debit", movement("a", 1001), "insufficient funds in a: balance 1000, needs 1001"),
                ("u4", "credit", movement("b", 1000), "the balance of b would overflow"),
            ]
            for (name, action, payload, reason) in cases {
                let answer = try await bank.client.prepare(gid(name), action, payload)
                #expect(answer.outcome == .refused && answer.refusalKind == .business, "\(name)")
                #expect(answer.reason.contains(reason), "\(name): \(answer.reason)")
            }
            #expect(try await bank.prepared().isEmpty)
            #expect(try await bank.pool.query("SELECT 1 FROM postings").isEmpty, "no posting of a refused movement is kept")
            #expect(try await bank.balance("a") == 1000)
        }
    }

    @Test func compensationBeforeTheActionIsEmptyAndBlocksTheAction() async throws {
        try await withBank { bank throws in
            let answer = try await bank.client.compensate(gid("t9"), "refund", movement("a", 100))
            #expect(answer.outcome == .empty)
            #expect(try await bank.balance("a") == 1000, "the refund did not run")
            #expect(try await bank.barrier(gid("t9")) == ["action", "cancelled", "compensation"])
            let late = try await bank.client.prepare(gid("t9"), "debit", movement("a", 100))
            #expect(late.refusalKind == .cancelled)
            #expect(try await bank.balance("a") == 1000)
        }
    }

    @Test func compensatingTwiceRunsTheClosureOnce() async throws {
        try await withBank { bank throws in
            _ = try await bank.client.prepare(gid("t10"), "debit", movement("a", 100))
            _ = try await bank.client.commit(gid("t10"))
            #expect(try await bank.balance("a") == 900)
            #expect(try await bank.client.compensate(gid("t10"), "refund", movement("a", 100)).outcome == .compensated)
            #expect(try await bank.client.compensate(gid("t10"), "refund", movement("a", 100)).outcome == .compensated)
            #expect(try await bank.balance("a") == 1000)
            #expect(try await bank.postings(gid("t10")) == ["debit", "refund"])
            #expect(try await bank.barrier(gid("t10")) == ["action", "compensation"])
        }
    }

    @Test func compensatingAPreparedBranchIsRefusedUntilItIsResolved() async throws {
        try await withBank { bank throws in
            _ = try await bank.client.prepare(gid("t11"), "debit", movement("a", 100))
            let failure = await rpcFailure { _ = try await bank.client.compensate(gid("t11"), "refund", movement("a", 100)) }
            #expect(failure?.code == .failedPrecondition)
            #expect(try await bank.barrier(gid("t11")).isEmpty)
            _ = try await bank.client.rollback(gid("t11"))
            #expect(try await bank.client.compensate(gid("t11"), "refund", movement("a", 100)).outcome == .empty)
            #expect(try await bank.balance("a") == 1000)
        }
    }

    @Test func aRefusingCompensationCommitsNothingAndCanBeRetried() async throws {
        try await withBank { bank throws in
            _ = try await bank.client.prepare(gid("t12"), "credit", movement("b", 100))
            _ = try await bank.client.commit(gid("t12"))
            // Spend the credited money, so reversing it is refused.
            try await bank.pool.query("UPDATE accounts SET balance = 0 WHERE id = 'b'")
            let refused = try await bank.client.compensate(gid("t12"), "reverse-credit", movement("b", 100))
            #expect(refused.outcome == .refused)
            #expect(refused.reason.contains("insufficient funds"))
            #expect(try await bank.barrier(gid("t12")) == ["action"], "no compensation recorded")
            try await bank.pool.query("UPDATE accounts SET balance = 100 WHERE id = 'b'")
            #expect(try await bank.client.compensate(gid("t12"), "reverse-credit", movement("b", 100)).outcome == .compensated)
            #expect(try await bank.balance("b") == 0)
        }
    }

    @Test func inDoubtListsPreparedBranchesUnderThePrefixWithTheirAge() async throws {
        try await withBank { bank throws in
            _ = try await bank.client.prepare(gid("t13", 0), "debit", movement("a", 1))
            _ = try await bank.client.prepare(gid("t13", 1), "credit", movement("b", 1))
            // Another coordinator's branch, prepared behind the library's back: not this caller's to see.
            try await bank.pool.withConnection { connection in
                try await connection.query("BEGIN")
                try await connection.query("PREPARE TRANSACTION 'settle:other-coordinator:1:0000000000000001:t13:0'")
            }
            try await Task.sleep(for: .milliseconds(50))
            let branches = try await bank.client.inDoubt("settle:test-coordinator:")
            #expect(branches.map(\.gid) == [gid("t13", 0), gid("t13", 1)])
            #expect(branches.allSatisfy { $0.ageMs >= 50 && $0.ageMs < 60_000 })
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            #expect(branches.allSatisfy { abs(now - $0.preparedAtUnixMs) < 60_000 })
            #expect(try await bank.client.inDoubt(gid("t13", 0)).count == 1, "a longer prefix under its own is fine")
            let everyone = await rpcFailure { _ = try await bank.client.inDoubt("settle:") }
            #expect(everyone?.code == .permissionDenied, "only its own prefix")
            try await bank.pool.query("ROLLBACK PREPARED 'settle:other-coordinator:1:0000000000000001:t13:0'")
            for gid in try await bank.prepared() { _ = try await bank.client.rollback(gid) }
            #expect(try await bank.client.inDoubt("settle:test-coordinator:").isEmpty)
        }
    }

    @Test func healthReportsCapacityAndRegistrations() async throws {
        try await withBank { bank throws in
            let health = try await bank.client.health(.init(), metadata: authorized)
            #expect(health.participant == "bank-test")
            #expect(health.maxPreparedTransactions == 200)
            #expect(health.actions == ["credit", "debit"])
            #expect(health.compensations == ["refund", "reverse-credit"])
        }
    }

    /// A Rollback that meets a Prepare still running (the "hanging" race) stops it: the action's
    /// work is rolled back, the branch is cancelled, and nothing stays prepared.
    @Test func aRollbackDuringASlowPrepareCancelsIt() async throws {
        try await withBank(faults: FaultInjection(delays: ["debit": .seconds(5)])) { bank throws in
            async let slowPrepare = bank.client.prepare(gid("race"), "debit", movement("a", 100))
            // The prepare holds its barrier row and sleeps in its transaction: the rollback must
            // meet it there, not before it started (which would pass by another path).
            try await waitUntil(timeout: .seconds(10), "the prepare is inside its transaction") {
                try await bank.sessions(inState: "idle in transaction") == 1
            }
            #expect(try await bank.phaseTwoClient.rollback(gid("race")) == .rolledBack)
            #expect(try await slowPrepare.refusalKind == .cancelled)
            #expect(try await bank.prepared().isEmpty)
            #expect(try await bank.balance("a") == 1000)
            #expect(try await bank.barrier(gid("race")) == ["action", "cancelled"])
            #expect(try await bank.client.prepare(gid("race"), "debit", movement("a", 100)).refusalKind == .cancelled)
        }
    }

    @Test func inDoubtGaugesFollowPreparedBranches() async throws {
        try await withBank(configure: { $0.inDoubtRefreshInterval = .milliseconds(20) }) { bank throws in
            let gauge = try bank.metrics.expectGauge("settle_participant_in_doubt_branches", [("participant", "bank-test")])
            _ = try await bank.client.prepare(gid("gauge", 0), "debit", movement("a", 1))
            _ = try await bank.client.prepare(gid("gauge", 1), "credit", movement("b", 1))
            try await waitUntil { gauge.lastValue == 2 }
            let age = try bank.metrics.expectGauge(
                "settle_participant_in_doubt_oldest_age_seconds", [("participant", "bank-test")]
            )
            try await waitUntil { (age.lastValue ?? 0) > 0 }
            _ = try await bank.client.commit(gid("gauge", 0))
            _ = try await bank.client.commit(gid("gauge", 1))
            try await waitUntil { gauge.lastValue == 0 }
        }
    }

    /// After PREPARE TRANSACTION the branch belongs to the server: with a one-connection pool,
    /// five branches can be prepared at once.
    @Test func aPreparedBranchHoldsNoPoolConnection() async throws {
        try await withBank(poolSize: 1) { bank throws in
            try await BankSchema.seed(bank.pool, accounts: (0..<5).map { ("c\($0)", 0) })
            for index in 0..<5 {
                let answer = try await bank.client.prepare(gid("pool", index), "credit", movement("c\(index)", 10))
                #expect(answer.outcome == .prepared)
            }
            #expect(try await bank.prepared().count == 5)
            for index in 0..<5 { #expect(try await bank.client.commit(gid("pool", index)) == .committed) }
            #expect(try await BankSchema.totalBalance(bank.pool) == 1500 + 50)
        }
    }

    /// A Rollback stops a Prepare of the same gid that waits on a row held by another prepared
    /// branch, instead of waiting for its lock timeout, so an aborted transfer frees its
    /// resources at once.
    @Test func aRollbackCancelsAPrepareWaitingOnARowLock() async throws {
        try await withBank(configure: { $0.actionLockTimeout = .seconds(60) }) { bank throws in
            #expect(try await bank.client.prepare(gid("holder"), "debit", movement("a", 10)).outcome == .prepared)
            async let waiting = bank.client.prepare(gid("waiter"), "debit", movement("a", 20))
            try await waitUntil(timeout: .seconds(10), "the second prepare waits on the row lock") {
                try await bank.sessionsWaitingOnALock() == 1
            }
            #expect(try await bank.phaseTwoClient.rollback(gid("waiter")) == .rolledBack)
            // Cancelled: had it waited out the 60 s lock timeout, it would have failed (ABORTED).
            let answer = try await waiting
            #expect(answer.outcome == .refused)
            #expect(answer.refusalKind == .cancelled)
            #expect(try await bank.barrier(gid("waiter")) == ["action", "cancelled"])
            #expect(try await bank.prepared() == [gid("holder")])
            #expect(try await bank.phaseTwoClient.commit(gid("holder")) == .committed)
            #expect(try await bank.balance("a") == 990)
        }
    }

    /// With heuristicRollbackAfter set, a branch left prepared too long is rolled back by the
    /// participant and recorded as cancelled; its Commit then answers heuristic-rollback.
    @Test func aBranchPreparedTooLongIsRolledBackHeuristically() async throws {
        try await withBank(configure: {
            $0.heuristicRollbackAfter = .milliseconds(300)
            $0.inDoubtRefreshInterval = .milliseconds(50)
        }) { bank throws in
            #expect(try await bank.client.prepare(gid("forgotten"), "debit", movement("a", 100)).outcome == .prepared)
            // ROLLBACK PREPARED comes first, the barrier rows in a transaction right after it.
            try await waitUntil(timeout: .seconds(30), "heuristic rollback recorded") {
                try await bank.barrier(gid("forgotten")) == ["action", "cancelled"]
            }
            #expect(try await bank.prepared().isEmpty)
            #expect(try await bank.barrier(gid("forgotten")) == ["action", "cancelled"])
            #expect(try await bank.client.commit(gid("forgotten")) == .heuristicRollback)
            #expect(try await bank.client.prepare(gid("forgotten"), "debit", movement("a", 100)).refusalKind == .cancelled)
            #expect(try await bank.balance("a") == 1000)
        }
    }
}
