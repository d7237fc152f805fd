import Foundation
import SettleAuth
@testable import SettleCoordinator
import SignedLog
import Testing

@Suite struct OrderSignerTests {
    let key: SigningKey

    init() throws { key = try SigningKey.generate() }

    /// `count` commits at once, alternately for bank-a and bank-b.
    func signAll(_ signer: OrderSigner, count: Int, accepted: Bool) async throws -> [(SignedOrder, [UInt8])] {
        try await withThrowingTaskGroup(of: (SignedOrder, [UInt8]).self) { group in
            for index in 0..<count {
                group.addTask {
                    let gid = "settle:c:1:00000000000000ff:pay-\(index):\(index % 2)"
                    let participant = index % 2 == 0 ? "bank-a" : "bank-b"
                    let order = SignedOrder(command: .commit, participant: participant, gid: gid, decisionLSN: UInt64(index + 1))
                    let message = try await signer.order(
                        .commit, for: participant, gid: gid, decisionLSN: UInt64(index + 1), batched: accepted
                    )
                    #expect(message.decisionLsn == UInt64(index + 1))
                    return (order, Array(message.signature))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test func ordersAskedForTogetherShareSignaturesAndEachVerifies() async throws {
        let signer = OrderSigner(key: key)
        let signed = try await signAll(signer, count: 300, accepted: true)
        for (order, seal) in signed { #expect(order.refusal(of: seal, keys: [key.verifyingKey]) == nil, "\(order.gid)") }
        #expect(signer.ordersSigned == 300)
        #expect(signer.signaturesMade < 300, "\(signer.signaturesMade) signatures for 300 orders")
        #expect(signed.contains { $0.1.count > Ed25519.signatureByteCount }, "some went as batch seals")
    }

    /// An audit path holds the hashes of its batch's other orders, kept as evidence at the
    /// participant: one bank's evidence must say nothing about another bank's branches.
    @Test func aBatchNeverMixesParticipants() async throws {
        let signed = try await signAll(OrderSigner(key: key), count: 300, accepted: true)
        var participantsBySignature: [[UInt8]: Set<String>] = [:]
        for (order, seal) in signed {
            let signature = OrderBatchSeal(encoded: seal)?.signature ?? seal
            participantsBySignature[signature, default: []].insert(order.participant)
        }
        #expect(participantsBySignature.values.allSatisfy { $0.count == 1 })
    }

    @Test func anOrderIsSignedAloneWhenAloneOrWhenItsParticipantDoesNotAcceptBatchSeals() async throws {
        let lone = try await OrderSigner(key: key).order(
            .rollback, for: "bank-a", gid: "settle:c:1:00000000000000ff:x:0", decisionLSN: 0, batched: true
        )
        #expect(lone.signature.count == Ed25519.signatureByteCount)
        let notAccepted = OrderSigner(key: key)
        let signedForOldParticipants = try await signAll(notAccepted, count: 40, accepted: false)
        #expect(signedForOldParticipants.allSatisfy { $0.1.count == Ed25519.signatureByteCount }, "an older participant refuses seals")
        #expect(notAccepted.signaturesMade == 40)
        let unbatched = OrderSigner(key: key, batched: false)
        let signedUnbatched = try await signAll(unbatched, count: 40, accepted: true)
        #expect(signedUnbatched.allSatisfy { $0.1.count == Ed25519.signatureByteCount }, "batchedOrderSignatures false")
        #expect(unbatched.signaturesMade == 40)
    }
}
