import Synchronization

/// Messages produced by many tasks for one writer, which takes everything waiting at once.
///
/// Why not an `AsyncStream`: its consumer gets one element per `next()`, so a gRPC stream's
/// writer wrote — and handed to the event loop, framed and flushed — one message at a time even
/// when dozens were waiting. Taking them together lets the writer pass them in one
/// `write(contentsOf:)`: one hop to the event loop and one flush for the lot.
///
/// One consumer at a time. Producers never wait (the queue is unbounded, like an `AsyncStream`'s
/// default): callers bound what they put in, as the participant's command slots do.
public final class MessageOutbox<Message: Sendable>: Sendable {
    private struct State {
        var waiting: [Message] = []
        var isFinished = false
        var consumer: CheckedContinuation<[Message]?, Never>?

        /// Swapped out, not copied and cleared: the returned array keeps the buffer, so clearing
        /// with its capacity kept would allocate a buffer as large as the largest batch each time.
        mutating func takeAll() -> [Message] {
            var taken: [Message] = []
            swap(&taken, &waiting)
            return taken
        }
    }

    private let state = Mutex(State())

    public init() {}

    /// Queues `message` for the writer; false (and dropped) once finished.
    @discardableResult
    public func yield(_ message: Message) -> Bool {
        let (accepted, wake) = state.withLock { state -> (Bool, (CheckedContinuation<[Message]?, Never>, [Message])?) in
            guard !state.isFinished else { return (false, nil) }
            state.waiting.append(message)
            guard let consumer = state.consumer else { return (true, nil) }
            state.consumer = nil
            return (true, (consumer, state.takeAll()))
        }
        if let (consumer, messages) = wake { consumer.resume(returning: messages) }
        return accepted
    }

    /// No more messages will come: the writer gets those still waiting, then nil.
    public func finish() {
        // A parked consumer has taken everything: nothing waits behind it.
        state.withLock { state in
            state.isFinished = true
            defer { state.consumer = nil }
            return state.consumer
        }?.resume(returning: nil)
    }

    /// Every message waiting, in the order they were queued, after waiting for at least one; nil
    /// once finished and drained, or when the consuming task is cancelled.
    public func next() async -> [Message]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[Message]?, Never>) in
                let ready = state.withLock { state -> [Message]?? in
                    if Task.isCancelled { return .some(nil) }
                    if !state.waiting.isEmpty { return .some(state.takeAll()) }
                    if state.isFinished { return .some(nil) }
                    state.consumer = continuation
                    return .none
                }
                if let messages = ready { continuation.resume(returning: messages) }
            }
        } onCancel: {
            state.withLock { state in
                defer { state.consumer = nil }
                return state.consumer
            }?.resume(returning: nil)
        }
    }
}
