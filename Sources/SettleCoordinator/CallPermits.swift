import NIOCore
import Synchronization

/// At most `limit` calls at once on one connection to a participant; callers beyond it wait their
/// turn, first come first served, in settled, holding nothing of the participant's. Without it, a
/// burst (100,000 transfers resumed after a restart, or many held in prepare) opened a stream per
/// call: the participant could serve only so many at once, the rest passed their deadlines in its
/// queue, were retried, and queued again, until almost nothing finished and settled held gigabytes.
final class CallPermits: Sendable {
    private struct State {
        var available: Int
        /// Waiters by id, and their order; a cancelled waiter leaves the table at once and its id
        /// is skipped when its turn comes, so cancelling many waiters costs no scan of the queue.
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
        var order = CircularBuffer<UInt64>()
        var nextWaiterID: UInt64 = 0
    }

    private let state: Mutex<State>

    init(limit: Int) {
        state = Mutex(State(available: max(1, limit)))
    }

    /// Runs `body` holding a permit. Waiting ends early only with the task's cancellation.
    func withPermit<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        try await acquire()
        defer { release() }
        return try await body()
    }

    /// Callers waiting for a permit now.
    var waiting: Int { state.withLock { $0.waiters.count } }

    private func acquire() async throws {
        let waiterID: UInt64? = state.withLock { state in
            if state.available > 0 {
                state.available -= 1
                return nil
            }
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        guard let waiterID else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let acquiredMeanwhile = state.withLock { state in
                    if state.available > 0 {
                        state.available -= 1
                        return true
                    }
                    state.waiters[waiterID] = continuation
                    state.order.append(waiterID)
                    return false
                }
                if acquiredMeanwhile { continuation.resume() }
                // Cancelled before it was queued: the handler below found nothing to resume.
                if !acquiredMeanwhile, Task.isCancelled { removeWaiter(waiterID)?.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            removeWaiter(waiterID)?.resume(throwing: CancellationError())
        }
    }

    private func removeWaiter(_ id: UInt64) -> CheckedContinuation<Void, any Error>? {
        state.withLock { $0.waiters.removeValue(forKey: id) }
    }

    /// Hands the permit to the longest waiter still waiting, or returns it.
    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            while let id = state.order.popFirst() {
                if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
            }
            state.available += 1
            return nil
        }
        next?.resume()
    }
}
