import GRPCCore
import Synchronization

/// Bounds what `Branches` calls can make a participant hold: open calls, and per call the
/// commands running or answered but not yet written. Without the second bound a caller that never
/// reads its answers would have them pile up in memory; without the first, every HTTP/2 stream
/// the server allows could carry that many commands.
final class BranchCallGate: Sendable {
    static let callsMax = 64
    static let commandsPerCallMax = 1024

    private let open = Atomic<Int>(0)

    /// Runs `body` as one open call, or refuses the call when `callsMax` are open.
    func admit<Result>(_ body: () async throws -> Result) async throws -> Result {
        let now = open.wrappingAdd(1, ordering: .relaxed).newValue
        defer { open.wrappingSubtract(1, ordering: .relaxed) }
        guard now <= Self.callsMax else {
            throw RPCError(code: .resourceExhausted, message: "\(Self.callsMax) Branches calls are open here; retry later")
        }
        return try await body()
    }
}

/// One call's command slots: taken before a command starts, given back once its answer is written.
final class CommandSlots: Sendable {
    private struct State {
        var available: Int
        var waiter: CheckedContinuation<Void, any Error>?
    }

    private let state: Mutex<State>

    init(_ count: Int) {
        state = Mutex(State(available: count))
    }

    /// Waits for a slot; only the call's reader takes slots, so there is at most one waiter.
    func take() async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let ready = state.withLock { state -> Result<Void, any Error>? in
                    // Cancelled before the handler below could find the waiter: parking now would
                    // wait forever, since the writer that gives slots back has ended with the call.
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if state.available > 0 {
                        state.available -= 1
                        return .success(())
                    }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }?.resume(throwing: CancellationError())
        }
    }

    /// Returns `count` slots; the waiting reader, if any, takes one of them.
    func giveBack(_ count: Int = 1) {
        guard count > 0 else { return }
        let waiter = state.withLock { state in
            guard let waiter = state.waiter else {
                state.available += count
                return nil as CheckedContinuation<Void, any Error>?
            }
            state.waiter = nil
            state.available += count - 1
            return waiter
        }
        waiter?.resume()
    }
}
