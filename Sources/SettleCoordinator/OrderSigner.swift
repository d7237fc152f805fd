import Foundation
import SettleAuth
import SettleProtocol
import SignedLog

/// Signs the coordinator's commands with the log's key (see `SignedOrder` for why the
/// same key), so a participant can verify each one was ordered by a sealed decision.
struct OrderSigner: Sendable {
    let key: SigningKey

    func order(
        _ command: SignedOrder.Command, for participant: String, gid: String, decisionLSN: UInt64, work: [UInt8]? = nil
    ) throws -> Settle_V1_SignedOrder {
        let order = SignedOrder(command: command, participant: participant, gid: gid, decisionLSN: decisionLSN, work: work)
        var message = Settle_V1_SignedOrder()
        message.decisionLsn = decisionLSN
        message.signature = Data(try order.signature(with: key))
        return message
    }
}
