import SettleAuth
import SignedLog
import Testing

@Suite struct SignedOrderTests {
    let key: SigningKey
    let otherKey: SigningKey
    let gid = "settle:coord-a:1:00000000000000ff:pay-1:0"
    let refund = SignedOrder.workDigest(name: "refund", payload: Array(#"{"amount":1}"#.utf8))

    init() throws {
        key = try SigningKey.generate()
        otherKey = try SigningKey.generate()
    }

    func order(
        _ command: SignedOrder.Command, participant: String = "bank-a", gid: String? = nil, lsn: UInt64 = 7, work: [UInt8]? = nil
    )
        -> SignedOrder
    {
        SignedOrder(command: command, participant: participant, gid: gid ?? self.gid, decisionLSN: lsn, work: work)
    }

    @Test func aSignedOrderVerifiesWithTheSigningKeyOnly() throws {
        let commit = order(.commit)
        let signature = try commit.signature(with: key)
        #expect(commit.refusal(of: signature, keys: [key.verifyingKey]) == nil)
        #expect(commit.refusal(of: signature, keys: [otherKey.verifyingKey]) != nil)
        #expect(commit.refusal(of: signature, keys: [otherKey.verifyingKey, key.verifyingKey]) == nil, "any configured key will do")
    }

    @Test func aSignatureBindsCommandParticipantGidLSNAndWork() throws {
        let compensate = order(.compensate, work: refund)
        let signature = try compensate.signature(with: key)
        let keys = [key.verifyingKey]
        let altered = [
            order(.prepare, work: refund),
            order(.compensate, participant: "bank-b", work: refund),
            order(.compensate, gid: gid.replacingOccurrences(of: "pay-1", with: "pay-2"), work: refund),
            order(.compensate, lsn: 8, work: refund),
            order(.compensate, work: SignedOrder.workDigest(name: "refund", payload: Array(#"{"amount":1000}"#.utf8))),
        ]
        #expect(compensate.refusal(of: signature, keys: keys) == nil)
        for other in altered { #expect(other.refusal(of: signature, keys: keys) != nil, "\(other)") }
    }

    @Test func unsignedOrdersOrdersWithoutTheirWorkAndCommitsWithoutADecisionAreRefused() throws {
        let keys = [key.verifyingKey]
        #expect(order(.commit).refusal(of: [], keys: keys)?.contains("not signed") == true)
        let presumedAbort = order(.rollback, lsn: 0)
        #expect(presumedAbort.refusal(of: try presumedAbort.signature(with: key), keys: keys) == nil)
        let commitOfNothing = order(.commit, lsn: 0)
        #expect(commitOfNothing.refusal(of: try commitOfNothing.signature(with: key), keys: keys)?.contains("LSN 0") == true)
        let prepareWithoutWork = order(.prepare)
        #expect(prepareWithoutWork.refusal(of: try prepareWithoutWork.signature(with: key), keys: keys)?.contains("work") == true)
        let commitWithWork = order(.commit, work: refund)
        #expect(commitWithWork.refusal(of: try commitWithWork.signature(with: key), keys: keys)?.contains("work") == true)
    }

    @Test func anOrderIsNeverALogSeal() throws {
        // A seal signs a 32-byte chain hash; an order starts with its domain, so one can never be the other.
        let rollback = order(.rollback)
        #expect(rollback.signedBytes.starts(with: Array("settle-order/v1".utf8) + [0]))
        #expect(rollback.signedBytes.count > 32)
    }

    @Test func theWorkDigestSeparatesNameFromPayload() {
        #expect(SignedOrder.workDigest(name: "ab", payload: Array("c".utf8)) != SignedOrder.workDigest(name: "a", payload: Array("bc".utf8)))
    }
}
