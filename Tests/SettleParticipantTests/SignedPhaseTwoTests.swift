import Foundation
import GRPCCore
import SettleAuth
import SettleParticipant
import SettleProtocol
import SignedLog
import SettleTestSupport
import Testing

/// A participant acts on a phase-two command only when its coordinator's key signed it, for that
/// very command, gid, decision and work, and only for gids under that coordinator's prefix; and it
/// keeps the signed order with the barrier row the command caused.
@Suite("signed phase two and per-coordinator credentials", .timeLimit(.minutes(5)))
struct SignedPhaseTwoTests {
    static let otherToken = "other-coordinator-token-0123456789"
    static let otherKey: SigningKey = {
        do { return try SigningKey.generate() } catch { fatalError("cannot generate a test key: \(error)") }
    }()
    static let otherAuthorized: Metadata = ["authorization": "Bearer \(otherToken)"]

    /// The test coordinator and a second one, "other", with its own token and key.
    static func twoCoordinators(_ configuration: inout ParticipantConfiguration) {
        configuration.coordinators.append(
            CoordinatorCredential(id: "other", tokenDigest: TokenSource.digest(ofToken: otherToken), publicKeys: [otherKey.verifyingKey])
        )
    }

    func commit(_ bank: Bank, _ gid: String, order: Settle_V1_SignedOrder?, metadata: Metadata = authorized) async -> RPCError? {
        var request = Settle_V1_CommitRequest()
        request.gid = gid
        if let order { request.order = order }
        return await rpcFailure { _ = try await bank.client.commit(request, metadata: metadata) }
    }

    func evidence(_ bank: Bank, _ gid: String, _ op: String) async throws -> (lsn: Int64?, signature: [UInt8]?) {
        let row = try await bank.pool.query("SELECT decision_lsn, decision_signature FROM settle_barrier WHERE gid = $1 AND op = $2", [gid, op])[0]
        return (try row.decode(Int64?.self, column: "decision_lsn"), try row.decode([UInt8]?.self, column: "decision_signature"))
    }

    @Test func aCommitThatIsUnsignedOrBadlySignedIsRefusedAndNothingMoves() async throws {
        try await withBank(configure: Self.twoCoordinators) { bank throws in
            let target = gid("unsigned")
            #expect(try await bank.client.prepare(target, "credit", movement("a", 250)).outcome == .prepared)
            var overAnotherDecision = try signedOrder(.commit, target, lsn: 5)
            overAnotherDecision.decisionLsn = 6
            let refusals: [(String, Settle_V1_SignedOrder?)] = [
                ("unsigned", nil),
                ("signed by another key", try signedOrder(.commit, target, key: Self.otherKey)),
                ("signed for another gid", try signedOrder(.commit, gid("elsewhere"))),
                ("signed as a rollback", try signedOrder(.rollback, target)),
                ("signed over another decision", overAnotherDecision),
                ("signed with no decision", try signedOrder(.commit, target, lsn: 0)),
                ("signed for another participant", try signedOrder(.commit, target, participant: "bank-elsewhere")),
            ]
            for (name, order) in refusals {
                let failure = await commit(bank, target, order: order)
                #expect(failure?.code == .unauthenticated, "\(name): \(String(describing: failure))")
            }
            #expect(try await bank.prepared() == [target], "still prepared: nothing was committed")
            #expect(try await bank.balance("a") == 1000)
            let refusedCount = try bank.metrics.expectCounter(
                "settle_participant_operations_total",
                [("participant", "bank-test"), ("operation", "commit"), ("outcome", "error-unauthenticated")]
            )
            #expect(refusedCount.totalValue == 7, "each refusal is counted")

            #expect(await commit(bank, target, order: try signedOrder(.commit, target, lsn: 41)) == nil)
            #expect(try await bank.balance("a") == 1250)
            let kept = try await evidence(bank, target, "action")
            #expect(kept.lsn == 41)
            let signature = try #require(kept.signature)
            #expect(
                SignedOrder(command: .commit, participant: testParticipant, gid: target, decisionLSN: 41).refusal(
                    of: signature, keys: [coordinatorKey.verifyingKey]) == nil,
                "the barrier row carries the order that committed it, verifiable with the public key alone")
        }
    }

    /// Orders signed together carry one signature over their batch's root and each its audit path:
    /// the participant acts on each, keeps the seal as evidence that verifies alone, and refuses an
    /// order of the batch presented with another's seal.
    @Test func commitsWhoseOrdersShareABatchSealAreActedOnAndKeepTheSeal() async throws {
        try await withBank { bank throws in
            let targets = ["a", "b"].map { gid("batched-\($0)") }
            for (target, account) in zip(targets, ["a", "b"]) {
                #expect(try await bank.client.prepare(target, "credit", movement(account, 100)).outcome == .prepared)
            }
            let orders = targets.map { SignedOrder(command: .commit, participant: testParticipant, gid: $0, decisionLSN: 77) }
            let seals = try OrderBatchSeal.seal(orders, with: coordinatorKey).map(\.encoded)
            func order(_ seal: [UInt8]) -> Settle_V1_SignedOrder {
                var order = Settle_V1_SignedOrder()
                order.decisionLsn = 77
                order.signature = Data(seal)
                return order
            }
            #expect(await commit(bank, targets[0], order: order(seals[1]))?.code == .unauthenticated, "another order's seal")
            for (target, seal) in zip(targets, seals) { #expect(await commit(bank, target, order: order(seal)) == nil) }
            #expect(try await bank.balance("a") == 1100)
            #expect(try await bank.balance("b") == 600)
            for (index, target) in targets.enumerated() {
                let kept = try await evidence(bank, target, "action")
                #expect(kept.lsn == 77 && kept.signature == seals[index])
                #expect(orders[index].refusal(of: try #require(kept.signature), keys: [coordinatorKey.verifyingKey]) == nil)
            }
        }
    }

    /// A holder of the coordinator's token cannot prepare work of its own: a Prepare needs the
    /// coordinator's order for that gid, this participant and that very work.
    @Test func aPrepareNeedsTheCoordinatorsOrderForItsWork() async throws {
        try await withBank { bank throws in
            let target = gid("injected")
            let mine = movement("a", 1_000_000)
            func prepare(_ order: Settle_V1_SignedOrder?) async -> RPCError? {
                var request = Settle_V1_PrepareRequest()
                request.gid = target
                request.action = "credit"
                request.payload = mine
                if let order { request.order = order }
                return await rpcFailure { _ = try await bank.client.prepare(request, metadata: authorized) }
            }
            let signedForOtherWork = try signedOrder(.prepare, target, work: SignedOrder.workDigest(name: "credit", payload: movement("a", 1)))
            let signedElsewhere = try signedOrder(
                .prepare, target, work: SignedOrder.workDigest(name: "credit", payload: mine), participant: "bank-elsewhere"
            )
            for (name, order) in [("unsigned", nil), ("other work", signedForOtherWork), ("another participant", signedElsewhere)] {
                #expect(await prepare(order)?.code == .unauthenticated, "\(name)")
            }
            #expect(try await bank.prepared().isEmpty)
            #expect(try await bank.barrier(target).isEmpty)
            #expect(await prepare(try signedOrder(.prepare, target, work: SignedOrder.workDigest(name: "credit", payload: mine))) == nil)
            #expect(try await bank.prepared() == [target])
            #expect(try await bank.client.rollback(target) == .rolledBack)
        }
    }

    @Test func aCoordinatorActsOnlyUnderItsOwnPrefix() async throws {
        try await withBank(configure: Self.twoCoordinators) { bank throws in
            let mine = gid("mine")
            let others = "settle:other:1:0000000000000001:theirs:0"
            #expect(try await bank.client.prepare(mine, "credit", movement("a", 5)).outcome == .prepared)
            let crossPrepare = await rpcFailure { _ = try await bank.client.prepare(others, "credit", movement("a", 5)) }
            #expect(crossPrepare?.code == .permissionDenied, "the test coordinator's token cannot prepare other's gid")

            var theirCommit = Settle_V1_CommitRequest()
            theirCommit.gid = mine
            theirCommit.order = try signedOrder(.commit, mine, key: Self.otherKey)
            let crossCommit = await rpcFailure { _ = try await bank.client.commit(theirCommit, metadata: Self.otherAuthorized) }
            #expect(crossCommit?.code == .permissionDenied, "other, even signing with its own key, cannot commit the test coordinator's gid")
            let crossInDoubt = await rpcFailure {
                _ = try await bank.client.inDoubt(.with { $0.gidPrefix = "settle:test-coordinator:" }, metadata: Self.otherAuthorized)
            }
            #expect(crossInDoubt?.code == .permissionDenied)
            let theirs = try await bank.client.inDoubt(.with { $0.gidPrefix = "settle:other:" }, metadata: Self.otherAuthorized)
            #expect(theirs.branches.isEmpty, "other sees only its own, and has none")
            #expect(try await bank.prepared() == [mine])
            #expect(try await bank.balance("a") == 1000)
            #expect(try await bank.client.rollback(mine) == .rolledBack)
        }
    }

    @Test func rollbackAndCompensationKeepTheirOrdersWithTheRowsTheyWrite() async throws {
        try await withBank { bank throws in
            let cancelled = gid("cancelled")
            _ = try await bank.client.prepare(cancelled, "debit", movement("a", 10))
            #expect(try await bank.client.rollback(cancelled) == .rolledBack)
            #expect(try await evidence(bank, cancelled, "cancelled").lsn == 1)

            let compensated = gid("compensated")
            _ = try await bank.client.prepare(compensated, "debit", movement("a", 10))
            _ = try await bank.client.commit(compensated)
            var forged = Settle_V1_CompensateRequest()
            forged.gid = compensated
            forged.compensation = "refund"
            forged.payload = movement("a", 10_000)
            // A signature over the real work does not cover a larger refund.
            forged.order = try signedOrder(
                .compensate, compensated, work: SignedOrder.workDigest(name: "refund", payload: movement("a", 10))
            )
            let refused = await rpcFailure { _ = try await bank.client.compensate(forged, metadata: authorized) }
            #expect(refused?.code == .unauthenticated)
            #expect(try await bank.balance("a") == 990)
            #expect(try await bank.client.compensate(compensated, "refund", movement("a", 10)).outcome == .compensated)
            #expect(try await bank.balance("a") == 1000)
            let kept = try await evidence(bank, compensated, "compensation")
            #expect(kept.lsn == 1 && kept.signature?.count == 64)
        }
    }

    @Test func unsignedOrdersPassOnlyInTheMigrationWindowAndLeaveNoEvidence() async throws {
        try await withBank(configure: { $0.requireSignedPhaseTwo = false }) { bank throws in
            let target = gid("migrating")
            _ = try await bank.client.prepare(target, "credit", movement("a", 5))
            let forged = await commit(bank, target, order: try signedOrder(.commit, target, key: Self.otherKey))
            #expect(forged?.code == .unauthenticated, "a bad signature is refused even then")
            #expect(await commit(bank, target, order: nil) == nil)
            #expect(try await bank.balance("a") == 1005)
            let kept = try await evidence(bank, target, "action")
            #expect(kept.lsn == nil && kept.signature == nil, "an auditor sees the commit was not ordered by a signed decision")
        }
    }
}
