import Foundation
import SettleAuth
@testable import SettleCoordinator
import SignedLog
import Testing

@Suite struct OrderSignerTests {
    let key: SigningKey

    init() throws { key = try SigningKey.generate() }

    func signAll(_ signer: OrderSigner, count: Int) async throws -> [(SignedOrder, [UInt8])] {
        try await withThrowingTaskGroup(of: (SignedOrder, [UInt8]).self) { group in
            for index in 0..<count {
                group.addTask {
                    let gid = "settle:c:1:00000000000000ff:pay-\(index):\(index % 2)"
                    let participant = index % 2 == 0 ? "bank-a" : "bank-b"
                    let order = SignedOrder(command: .commit, participant: participant, gid: gid, decisionLSN: UInt64(index + 1))
                    let message = try await signer.order(.commit, for: participant, gid: gid, decisionLSN: UInt64(index + 1))
                    #expect(message.decisionLsn == UInt64(index + 1))
                    return (order, Array(message.signature))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test func ordersAskedForTogetherShareSignaturesAndEachVerifies() async throws {
        let signer = OrderSigner(key: key)
        let signed = try await signAll(signer, count: 300)
        for (order, seal) in signed { #expect(order.refusal(of: seal, keys: [key.verifyingKey]) == nil, "\(order.gid)") }
        #expect(signer.ordersSigned == 300)
        #expect(signer.signaturesMade < 300, "\(signer.signaturesMade) signatures for 300 orders")
        #expect(signed.contains { $0.1.count > Ed25519.signatureByteCount }, "some went as batch seals")
    }

    @Test func aLoneOrderAndEveryOrderOfAnUnbatchedSignerGetALoneSignature() async throws {
        let lone = try await OrderSigner(key: key).order(.rollback, for: "bank-a", gid: "settle:c:1:00000000000000ff:x:0", decisionLSN: 0)
        #expect(lone.signature.count == Ed25519.signatureByteCount)
        let unbatched = OrderSigner(key: key, batched: false)
        let signed = try await signAll(unbatched, count: 40)
        #expect(signed.allSatisfy { $0.1.count == Ed25519.signatureByteCount }, "for participants that know no batch seals")
        #expect(unbatched.signaturesMade == 40)
    }
}
