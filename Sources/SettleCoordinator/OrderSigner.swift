import Foundation
import Metrics
import SettleAuth
import SettleCore
import SettleProtocol
import SignedLog
import Synchronization

/// Signs the coordinator's commands with the log's key (see `SignedOrder` for why the
/// same key), so a participant can verify each one was ordered by a sealed decision.
///
/// Orders for one participant asked for at about the same time — the Commits of every transfer
/// one log write sealed — are signed as one batch (`OrderBatchSeal`): one signature for all, which
/// the participant verifies once. Batches never mix participants: an order's audit path holds the
/// hashes of the other orders in its batch, kept with it as evidence, and those would let one bank
/// confirm guesses about another's branches (the counterparty, the amount). A lone order, and
/// every order for a participant that has not said it accepts batch seals, is signed alone.
final class OrderSigner: Sendable {
    /// A batch's audit paths stay at most 6 hashes.
    static let batchOrdersMax = 64

    private typealias Batching = LeaderBatching<SignedOrder, [UInt8]>

    private let key: SigningKey
    private let batchingAllowed: Bool
    private let batchingByParticipant = Mutex<[String: Batching]>([:])
    private let counts = Counts()

    /// Made once: a metric made per signature looked its name up and validated it every time.
    private final class Counts: Sendable {
        let orders = Atomic(0)
        let signatures = Atomic(0)
        let ordersMetric = Counter(label: "settle_orders_signed_total")
        let signaturesMetric = Counter(label: "settle_order_signatures_total")
    }

    /// `batched` false signs every order alone, whatever participants accept.
    init(key: SigningKey, batched: Bool = true) {
        self.key = key
        self.batchingAllowed = batched
    }

    /// Orders signed, and the signatures that took: their ratio is the mean batch.
    var ordersSigned: Int { counts.orders.load(ordering: .relaxed) }
    var signaturesMade: Int { counts.signatures.load(ordering: .relaxed) }

    /// - Parameter batched: the participant accepts batch seals (`OrderSealSupport`).
    func order(
        _ command: SignedOrder.Command, for participant: String, gid: String, decisionLSN: UInt64, work: [UInt8]? = nil,
        batched: Bool = false
    ) async throws -> Settle_V1_SignedOrder {
        let order = SignedOrder(command: command, participant: participant, gid: gid, decisionLSN: decisionLSN, work: work)
        var message = Settle_V1_SignedOrder()
        message.decisionLsn = decisionLSN
        if batchingAllowed && batched {
            message.signature = Data(try await batching(for: participant).submit(order))
        } else {
            message.signature = Data(try Self.sign([order], with: key, counts: counts)[0])
        }
        return message
    }

    private func batching(for participant: String) -> Batching {
        batchingByParticipant.withLock { byParticipant in
            if let batching = byParticipant[participant] { return batching }
            let batching = Batching(batchItemsMax: Self.batchOrdersMax, gathersFirst: true) { [key, counts] in
                try Self.sign($0, with: key, counts: counts)
            }
            byParticipant[participant] = batching
            return batching
        }
    }

    private static func sign(_ batch: [SignedOrder], with key: SigningKey, counts: Counts) throws -> [[UInt8]] {
        counts.orders.add(batch.count, ordering: .relaxed)
        counts.signatures.add(1, ordering: .relaxed)
        counts.signaturesMetric.increment()
        counts.ordersMetric.increment(by: batch.count)
        guard batch.count > 1 else { return try batch.map { try $0.signature(with: key) } }
        return try OrderBatchSeal.seal(batch, with: key).map(\.encoded)
    }
}
