import GRPCCore
import SettleAuth
import Synchronization

/// Whether a participant accepts batch seals (`OrderBatchSeal`), as it says when it answers a
/// `Branches` call (its initial metadata). Until it has said so, and for a participant built
/// before batch seals, which says nothing and would refuse them, every order is signed alone:
/// upgrading `settled` before the services that embed the participant library breaks nothing.
final class OrderSealSupport: Sendable {
    private let acceptsBatches = Atomic(false)

    init() {}

    var acceptsBatchSeals: Bool { acceptsBatches.load(ordering: .relaxed) }

    /// Learns from the initial metadata of each `Branches` call as it opens; a call reopened to a
    /// participant that was rolled back to an older build unlearns it.
    func learn(from metadata: Metadata) {
        let announced = metadata[stringValues: OrderBatchSeal.acceptanceHeader].contains(OrderBatchSeal.acceptanceValue)
        acceptsBatches.store(announced, ordering: .relaxed)
    }
}
