import Synchronization

/// Lets an operator cut short the backoff of a transfer's phase-two or compensation retries
/// ("retry now" in the console): after an outage the next attempt may be minutes away, and the
/// participant is already back.
final class RetryNudges: Sendable {
    private struct Waiting {
        var sleepers: [String: [UInt64: CheckedContinuation<Void, Never>]] = [:]
        /// Nudged while none of the transfer's retries slept (an attempt under way, or a sleep
        /// about to start): its next sleep ends at once.
        var pending: Set<String> = []
        var nextID: UInt64 = 0
    }

    private let waiting = Mutex(Waiting())

    /// Sleeps `delay` on `clock`, or less if `nudge(id)` is called meanwhile; throws once the task
    /// is cancelled.
    func sleep(_ id: String, for delay: Duration, clock: any DriverClock) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await clock.sleep(for: delay) }
            group.addTask { await self.waitForNudge(id) }
            defer { group.cancelAll() }
            try await group.next()
            try Task.checkCancellation()
        }
    }

    /// Wakes every retry of `id` that is sleeping and returns how many there were; with none
    /// asleep, the next one to sleep does not.
    @discardableResult
    func nudge(_ id: String) -> Int {
        let woken = waiting.withLock { waiting in
            let woken = waiting.sleepers.removeValue(forKey: id) ?? [:]
            if woken.isEmpty { waiting.pending.insert(id) }
            return woken
        }
        for continuation in woken.values { continuation.resume() }
        return woken.count
    }

    /// The transfer's retries are over: a nudge nobody took is dropped.
    func forget(_ id: String) {
        waiting.withLock { _ = $0.pending.remove(id) }
    }

    private func waitForNudge(_ id: String) async {
        let sleeperID = waiting.withLock { waiting -> UInt64 in
            waiting.nextID += 1
            return waiting.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = waiting.withLock { waiting -> Bool in
                    guard !Task.isCancelled, waiting.pending.remove(id) == nil else { return true }
                    waiting.sleepers[id, default: [:]][sleeperID] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let continuation = waiting.withLock { waiting -> CheckedContinuation<Void, Never>? in
                let removed = waiting.sleepers[id]?.removeValue(forKey: sleeperID)
                if waiting.sleepers[id]?.isEmpty == true { waiting.sleepers[id] = nil }
                return removed
            }
            continuation?.resume()
        }
    }
}
