import SettleAuth
import SignedLog
import Testing

@Suite struct PhaseTwoOrderTests {
    let key: SigningKey
    let otherKey: SigningKey
    let gid = "settle:coord-a:1:00000000000000ff:pay-1:0"

    init() throws {
        key = try SigningKey.generate()
        otherKey = try SigningKey.generate()
    }

    @Test func aSignedOrderVerifiesWithTheSigningKeyOnly() throws {
        let order = PhaseTwoOrder(command: .commit, gid: gid, decisionLSN: 42)
        let signature = try order.signature(with: key)
        #expect(order.refusal(of: signature, keys: [key.verifyingKey]) == nil)
        #expect(order.refusal(of: signature, keys: [otherKey.verifyingKey]) != nil)
        #expect(order.refusal(of: signature, keys: [otherKey.verifyingKey, key.verifyingKey]) == nil, "any configured key will do")
    }

    @Test func aSignatureBindsCommandGidLSNAndWork() throws {
        let work = PhaseTwoOrder.compensationWork(name: "refund", payload: Array(#"{"amount":1}"#.utf8))
        let order = PhaseTwoOrder(command: .compensate, gid: gid, decisionLSN: 7, work: work)
        let signature = try order.signature(with: key)
        let keys = [key.verifyingKey]
        let altered = [
            PhaseTwoOrder(command: .commit, gid: gid, decisionLSN: 7, work: work),
            PhaseTwoOrder(command: .compensate, gid: gid.replacingOccurrences(of: "pay-1", with: "pay-2"), decisionLSN: 7, work: work),
            PhaseTwoOrder(command: .compensate, gid: gid, decisionLSN: 8, work: work),
            PhaseTwoOrder(
                command: .compensate, gid: gid, decisionLSN: 7,
                work: PhaseTwoOrder.compensationWork(name: "refund", payload: Array(#"{"amount":1000}"#.utf8))
            ),
            PhaseTwoOrder(command: .compensate, gid: gid, decisionLSN: 7),
        ]
        #expect(order.refusal(of: signature, keys: keys) == nil)
        for other in altered { #expect(other.refusal(of: signature, keys: keys) != nil, "\(other)") }
    }

    @Test func unsignedOrdersAndCommitsWithoutADecisionAreRefused() throws {
        let keys = [key.verifyingKey]
        #expect(PhaseTwoOrder(command: .commit, gid: gid, decisionLSN: 3).refusal(of: [], keys: keys)?.contains("not signed") == true)
        let presumedAbort = PhaseTwoOrder(command: .rollback, gid: gid, decisionLSN: 0)
        #expect(presumedAbort.refusal(of: try presumedAbort.signature(with: key), keys: keys) == nil)
        let commitOfNothing = PhaseTwoOrder(command: .commit, gid: gid, decisionLSN: 0)
        #expect(commitOfNothing.refusal(of: try commitOfNothing.signature(with: key), keys: keys)?.contains("LSN 0") == true)
    }

    @Test func anOrderIsNeverALogSeal() throws {
        // A seal signs a 32-byte chain hash; an order starts with its domain, so one can never be the other.
        let order = PhaseTwoOrder(command: .rollback, gid: gid, decisionLSN: 1)
        #expect(order.signedBytes.starts(with: Array("settle-phase-two-order/v1".utf8) + [0]))
        #expect(order.signedBytes.count > 32)
    }
}
