import Synchronization

/// Tells long-lived calls that the server is shutting down. A graceful shutdown waits for every
/// open call, and a coordinator keeps its `Branches` calls open for as long as it runs: without
/// this, a participant asked to stop would wait for its coordinators to stop first.
final class ShutdownNotice: Sendable {
    private struct State {
        var isGiven = false
        var nextWaiterID: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    var isGiven: Bool { state.withLock { $0.isGiven } }

    func give() {
        let waiters = state.withLock { state in
            state.isGiven = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the notice is given, or when the task is cancelled.
    func wait() async {
        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let mustReturn = state.withLock { state in
                    if state.isGiven || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if mustReturn { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
