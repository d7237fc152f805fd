import SettleSimulation
import Synchronization

/// Simulated time: it stands still while any job is ready and moves, when the simulation says,
/// straight to the next sleeper's deadline. Sleepers due at the same moment wake in the order
/// they went to sleep, so a seed replays exactly.
final class ManualDriverClock: DriverClock, Sendable {
    private struct Sleeper {
        let deadline: Duration
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Duration.zero
        var sleepers: [UInt64: Sleeper] = [:]
        var nextID: UInt64 = 0
        var random: SeededRandom
    }

    private let state: Mutex<State>

    init(seed: UInt64) {
        state = Mutex(State(random: SeededRandom(seed: seed)))
    }

    var now: Duration { state.withLock { $0.now } }

    func jitter(in range: ClosedRange<Int64>) -> Int64 {
        state.withLock { Int64.random(in: range, using: &$0.random) }
    }

    func sleep(until deadline: Duration) async throws {
        try await sleep(until: deadline, cancellable: true)
    }

    /// A message in flight: it arrives at `deadline` even if the task that sent it is cancelled
    /// (its coordinator crashed) meanwhile.
    func sleepIgnoringCancellation(for duration: Duration) async {
        try? await sleep(until: now + duration, cancellable: false)
    }

    private func sleep(until deadline: Duration, cancellable: Bool) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                state.withLock { state in
                    if cancellable, Task.isCancelled {
                        continuation.resume(throwing: CancellationError())
                    } else {
                        state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    }
                }
            }
        } onCancel: {
            guard cancellable else { return }
            state.withLock { $0.sleepers.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves to the earliest deadline and wakes everyone due then; false when nobody sleeps.
    func advance() -> Bool {
        let due = state.withLock { state -> [Sleeper] in
            guard let next = state.sleepers.values.map(\.deadline).min() else { return [] }
            state.now = max(state.now, next)
            let ids = state.sleepers.filter { $0.value.deadline <= state.now }.keys.sorted()
            return ids.compactMap { state.sleepers.removeValue(forKey: $0) }
        }
        for sleeper in due { sleeper.continuation.resume() }
        return !due.isEmpty
    }
}
