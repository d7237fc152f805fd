import SettleCore
import Synchronization

/// How the deadlock detector reaches a transfer's driver: each driver registers while it runs,
/// and a request reaches it as an event its machine decides on (an undecided transfer aborts;
/// a decided one ignores it).
final class AbortRequests: Sendable {
    typealias Deliver = @Sendable (_ reason: String) -> Void

    private struct Key: Hashable {
        let transferID: String
        let admission: Admission
    }

    private let drivers = Mutex<[Key: Deliver]>([:])

    func register(_ transferID: String, _ admission: Admission, _ deliver: @escaping Deliver) {
        drivers.withLock { $0[Key(transferID: transferID, admission: admission)] = deliver }
    }

    func unregister(_ transferID: String, _ admission: Admission) {
        _ = drivers.withLock { $0.removeValue(forKey: Key(transferID: transferID, admission: admission)) }
    }

    /// False when no driver of that admission runs (finished, or never here).
    @discardableResult
    func request(_ transferID: String, _ admission: Admission, reason: String) -> Bool {
        guard let deliver = drivers.withLock({ $0[Key(transferID: transferID, admission: admission)] }) else { return false }
        deliver(reason)
        return true
    }
}
