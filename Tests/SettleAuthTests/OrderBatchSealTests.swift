import SettleAuth
import SignedLog
import Testing

@Suite struct OrderBatchSealTests {
    let key: SigningKey
    let otherKey: SigningKey

    init() throws {
        key = try SigningKey.generate()
        otherKey = try SigningKey.generate()
    }

    func commits(_ count: Int, participant: String = "bank-a") -> [SignedOrder] {
        (0..<count).map {
            SignedOrder(command: .commit, participant: participant, gid: "settle:c:1:00000000000000ff:pay-\($0):0", decisionLSN: UInt64(100 + $0))
        }
    }

    @Test(arguments: [1, 2, 3, 5, 8, 13, 256]) func everyOrderOfABatchVerifiesWithItsOwnSeal(count: Int) throws {
        let orders = commits(count)
        let seals = try OrderBatchSeal.seal(orders, with: key).map(\.encoded)
        #expect(seals.count == count)
        for (order, seal) in zip(orders, seals) {
            #expect(seal.count != Ed25519.signatureByteCount, "a batch seal is never mistaken for a lone signature")
            #expect(OrderBatchSeal(encoded: seal)?.encoded == seal)
            #expect(order.refusal(of: seal, keys: [key.verifyingKey]) == nil)
            #expect(order.refusal(of: seal, keys: [otherKey.verifyingKey]) != nil)
        }
    }

    @Test func aSealVouchesForItsOwnOrderOnly() throws {
        let orders = commits(4)
        let seals = try OrderBatchSeal.seal(orders, with: key).map(\.encoded)
        let keys = [key.verifyingKey]
        #expect(orders[0].refusal(of: seals[1], keys: keys) != nil, "another order's seal from the same batch")
        let altered = [
            SignedOrder(command: .rollback, participant: "bank-a", gid: orders[0].gid, decisionLSN: 100),
            SignedOrder(command: .commit, participant: "bank-b", gid: orders[0].gid, decisionLSN: 100),
            SignedOrder(command: .commit, participant: "bank-a", gid: orders[0].gid, decisionLSN: 101),
            SignedOrder(command: .commit, participant: "bank-a", gid: orders[1].gid, decisionLSN: 100),
        ]
        for order in altered { #expect(order.refusal(of: seals[0], keys: keys) != nil, "\(order)") }
    }

    @Test func aTamperedSealIsRefusedNeverTrapped() throws {
        let order = commits(5)[2]
        let seal = try OrderBatchSeal.seal(commits(5), with: key)[2]
        let keys = [key.verifyingKey]
        var flippedPath = seal.encoded
        flippedPath[flippedPath.count - 1] ^= 1
        var flippedSignature = seal.encoded
        flippedSignature[0] ^= 1
        let forms: [(String, [UInt8])] = [
            ("a path hash altered", flippedPath),
            ("the signature altered", flippedSignature),
            ("another index", OrderBatchSeal(signature: seal.signature, index: 3, size: 5, path: seal.path).encoded),
            ("another size", OrderBatchSeal(signature: seal.signature, index: 2, size: 6, path: seal.path).encoded),
            ("index past the end", OrderBatchSeal(signature: seal.signature, index: 5, size: 5, path: seal.path).encoded),
            ("a hash too few", OrderBatchSeal(signature: seal.signature, index: 2, size: 5, path: seal.path.dropLast()).encoded),
            ("a hash too many", OrderBatchSeal(signature: seal.signature, index: 2, size: 5, path: seal.path + seal.path).encoded),
            ("truncated", Array(seal.encoded.dropLast(5))),
            ("too long to be a seal", seal.encoded + [UInt8](repeating: 0, count: 32 * 20)),
            ("a size past the limit", OrderBatchSeal(signature: seal.signature, index: 0, size: OrderBatchSeal.leavesMax + 1, path: []).encoded),
            ("empty tree", OrderBatchSeal(signature: seal.signature, index: 0, size: 0, path: []).encoded),
        ]
        for (name, bytes) in forms { #expect(order.refusal(of: bytes, keys: keys) != nil, "\(name)") }
        #expect(order.refusal(of: seal.encoded, keys: keys) == nil)
    }

    @Test func aVerifiedBatchSparesVerifyingItAgainButOnlyUnderTheKeyThatVerifiedIt() throws {
        let orders = commits(6)
        let seals = try OrderBatchSeal.seal(orders, with: key).map(\.encoded)
        let verified = VerifiedOrderBatches()
        for (order, seal) in zip(orders, seals) {
            #expect(order.refusal(of: seal, keys: [key.verifyingKey], verifiedBatches: verified) == nil)
        }
        #expect(verified.count == 1, "six orders, one root verified")
        // Another coordinator, whose only key is otherKey, cannot pass the remembered batch off as its own.
        #expect(orders[0].refusal(of: seals[0], keys: [otherKey.verifyingKey], verifiedBatches: verified) != nil)
        // Nor does the remembered root vouch for an order outside the batch.
        let stranger = commits(7)[6]
        #expect(stranger.refusal(of: seals[5], keys: [key.verifyingKey], verifiedBatches: verified) != nil)
    }

    @Test func theCacheIsBounded() throws {
        let verified = VerifiedOrderBatches()
        for batch in 0..<(VerifiedOrderBatches.capacity + 10) {
            let orders = [
                SignedOrder(command: .commit, participant: "p", gid: "g\(batch)", decisionLSN: 1),
                SignedOrder(command: .commit, participant: "p", gid: "h\(batch)", decisionLSN: 1),
            ]
            let seal = try OrderBatchSeal.seal(orders, with: key)[0].encoded
            #expect(orders[0].refusal(of: seal, keys: [key.verifyingKey], verifiedBatches: verified) == nil)
        }
        #expect(verified.count == VerifiedOrderBatches.capacity)
    }
}
