import SignedLog
import Synchronization

/// The batch roots a participant has verified lately, so that each further order of a batch costs
/// a few SHA-256 instead of an Ed25519 verification (`OrderBatchSeal`).
///
/// An entry is the exact signed message and signature, with the key that verified them: an order
/// is accepted from it only when that key is one its caller's coordinator may use, so one
/// coordinator's verified batch never vouches for another's orders. Bounded; the oldest entry
/// goes first, and a forgotten root is simply verified again.
public final class VerifiedOrderBatches: Sendable {
    public static let capacity = 1024

    private struct State {
        var verifiedBy: [[UInt8]: KeyID] = [:]
        var insertionOrder: [[UInt8]] = []
        var oldest = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// The key among `keys` that verified `signature` over `message` before, if any.
    func key(verified signature: [UInt8], over message: [UInt8], among keys: [VerifyingKey]) -> VerifyingKey? {
        guard let keyID = state.withLock({ $0.verifiedBy[message + signature] }) else { return nil }
        return keys.first { $0.keyID == keyID }
    }

    func remember(_ signature: [UInt8], over message: [UInt8], verifiedBy key: VerifyingKey) {
        let entry = message + signature
        state.withLock { state in
            guard state.verifiedBy.updateValue(key.keyID, forKey: entry) == nil else { return }
            if state.insertionOrder.count < Self.capacity {
                state.insertionOrder.append(entry)
            } else {
                state.verifiedBy[state.insertionOrder[state.oldest]] = nil
                state.insertionOrder[state.oldest] = entry
                state.oldest = (state.oldest + 1) % Self.capacity
            }
        }
    }

    public var count: Int { state.withLock { $0.verifiedBy.count } }
}
