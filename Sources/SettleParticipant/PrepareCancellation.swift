import Synchronization

/// Prepares in progress, by gid, so that a Rollback of the same gid can stop one that is
/// waiting (typically on a row held by another prepared branch) instead of waiting for it: the
/// coordinator has already decided to abort, and every second the prepare waits it holds a pool
/// connection and a barrier row.
final class PrepareCancellation: Sendable {
    private let signals = Mutex<[String: [CancelSignal]]>([:])

    /// Runs `prepare`; if `cancel(gid:)` is called meanwhile, the prepare is cancelled (its
    /// statement is cancelled on the server and its transaction rolled back) and the result is
    /// `.cancelled`.
    func run(gid: String, _ prepare: @escaping @Sendable () async throws -> PrepareOutcome) async throws -> PrepareOutcome {
        let signal = CancelSignal()
        signals.withLock { $0[gid, default: []].append(signal) }
        defer {
            signals.withLock { table in
                table[gid]?.removeAll { $0 === signal }
                if table[gid]?.isEmpty == true { table[gid] = nil }
            }
        }
        return try await withThrowingTaskGroup(of: PrepareOutcome?.self) { group in
            group.addTask { try await prepare() }
            group.addTask {
                await signal.wait()
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { return .cancelled }
            if let outcome = first { return outcome }
            // Cancelled by a Rollback: let the prepare unwind (rollback of its transaction).
            group.cancelAll()
            while let next = try? await group.next() {
                if let outcome = next { return outcome == .prepared ? .prepared : .cancelled }
            }
            return .cancelled
        }
    }

    func cancel(gid: String) {
        let waiting = signals.withLock { $0[gid] ?? [] }
        for signal in waiting { signal.fire() }
    }
}

/// A one-shot signal that one task awaits and another fires.
final class CancelSignal: Sendable {
    private let state = Mutex<(fired: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.fired || Task.isCancelled { return true }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            fire()
        }
    }

    func fire() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.fired = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }
}
