import Synchronization

/// Which participants recently deadlocked with each other, for the `adaptive` prepare order.
///
/// Why: preparing every branch at once is fastest while transfers do not contend, and ordered
/// prepares cannot deadlock across databases but cost a round of latency per branch. Measured on
/// the hot-merchant bench with the merchant's row updated in place, parallel prepares committed 98
/// and 34 transfers/s at concurrency 8 and 32, aborting 35 and 76 to break deadlocks, where ordered
/// ones committed 115 and 122 and aborted none; with a pooled merchant, which never deadlocks,
/// parallel is 10–15% faster. So a transfer prepares in parallel unless, within `window`, the
/// detector broke a deadlock between two of its participants: then in order. A deadlock is the
/// evidence that transfers over those databases lock rows in opposite orders.
final class ContentionMemory: Sendable {
    /// How long one broken deadlock keeps its participants' transfers ordered; each new one renews it.
    static let window = Duration.seconds(60)

    private struct Pair: Hashable {
        let first: String
        let second: String

        init(_ one: String, _ other: String) {
            (first, second) = one < other ? (one, other) : (other, one)
        }
    }

    private let deadlockedUntil = Mutex<[Pair: ContinuousClock.Instant]>([:])

    /// A deadlock was broken among transfers over `participants`. Only configured participants
    /// reach here (branches are validated against the configuration), so the pairs stay few.
    func noteDeadlock(among participants: Set<String>, now: ContinuousClock.Instant = .now) {
        let names = participants.sorted()
        guard names.count > 1 else { return }
        deadlockedUntil.withLock { until in
            until = until.filter { $0.value > now }
            for (index, one) in names.enumerated() {
                for other in names[(index + 1)...] { until[Pair(one, other)] = now + Self.window }
            }
        }
    }

    /// Whether two of `participants` deadlocked with each other within the window.
    func isContended(_ participants: Set<String>, now: ContinuousClock.Instant = .now) -> Bool {
        let names = participants.sorted()
        guard names.count > 1 else { return false }
        return deadlockedUntil.withLock { until in
            guard !until.isEmpty else { return false }
            for (index, one) in names.enumerated() {
                for other in names[(index + 1)...] where (until[Pair(one, other)] ?? now) > now { return true }
            }
            return false
        }
    }
}
