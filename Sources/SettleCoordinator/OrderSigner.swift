import Foundation
import Metrics
import SettleAuth
import SettleCore
import SettleProtocol
import SignedLog

/// Signs the coordinator's commands with the log's key (see `SignedOrder` for why the
/// same key), so a participant can verify each one was ordered by a sealed decision.
///
/// Orders asked for at about the same time — the two Prepares of a transfer, the Commits of every
/// transfer one log write sealed — are signed as one batch (`OrderBatchSeal`): one signature
/// for all, and each participant verifies it once for all of its orders in the batch. A lone
/// order gets a lone signature, as before batches existed.
final class OrderSigner: Sendable {
    /// A batch's audit paths stay at most 8 hashes.
    static let batchOrdersMax = 256

    private let key: SigningKey
    private let batching: LeaderBatching<SignedOrder, [UInt8]>

    /// `batched` false signs every order alone: for participants built before batch seals,
    /// which refuse them.
    init(key: SigningKey, batched: Bool = true) {
        self.key = key
        batching = LeaderBatching(batchItemsMax: batched ? Self.batchOrdersMax : 1, gathersFirst: batched) { orders in
            Counter(label: "settle_order_signatures_total").increment()
            Counter(label: "settle_orders_signed_total").increment(by: orders.count)
            guard orders.count > 1 else { return try orders.map { try $0.signature(with: key) } }
            return try OrderBatchSeal.seal(orders, with: key).map(\.encoded)
        }
    }

    /// Orders signed, and the signatures that took: their ratio is the mean batch.
    var ordersSigned: Int { batching.items.load(ordering: .relaxed) }
    var signaturesMade: Int { batching.batches.load(ordering: .relaxed) }

    func order(
        _ command: SignedOrder.Command, for participant: String, gid: String, decisionLSN: UInt64, work: [UInt8]? = nil
    ) async throws -> Settle_V1_SignedOrder {
        let order = SignedOrder(command: command, participant: participant, gid: gid, decisionLSN: decisionLSN, work: work)
        var message = Settle_V1_SignedOrder()
        message.decisionLsn = decisionLSN
        message.signature = Data(try await batching.submit(order))
        return message
    }
}
