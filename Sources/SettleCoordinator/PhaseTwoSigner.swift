import Foundation
import SettleAuth
import SettleProtocol
import SignedLog

/// Signs the coordinator's phase-two commands with the log's key (see `PhaseTwoOrder` for why the
/// same key), so a participant can verify each one was ordered by a sealed decision.
struct PhaseTwoSigner: Sendable {
    let key: SigningKey

    func order(
        _ command: PhaseTwoOrder.Command, gid: String, decisionLSN: UInt64, work: [UInt8]? = nil
    ) throws -> Settle_V1_PhaseTwoOrder {
        let order = PhaseTwoOrder(command: command, gid: gid, decisionLSN: decisionLSN, work: work)
        var message = Settle_V1_PhaseTwoOrder()
        message.decisionLsn = decisionLSN
        message.signature = Data(try order.signature(with: key))
        return message
    }
}
