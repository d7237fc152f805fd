import Synchronization

/// Work that costs much per batch and little per item — a signature over a Merkle root, a
/// transaction's round trip and WAL flush — done once for every caller that needs it at about the
/// same time.
///
/// The first caller to arrive while no batch is being done leads: it takes every item waiting
/// (up to `batchItemsMax`), does the work for all of them, answers the others, and hands the lead
/// to the first caller that arrived meanwhile. So at most one batch is in flight, nobody waits for
/// a timer, and a lone caller pays nothing but a lock. A failed batch fails every item in it.
///
/// `work` runs in the leader's own task, so the leader's cancellation reaches it: work that must
/// not be cut off by one caller's cancellation (it holds others' items too) starts a task of its
/// own inside `work`, as `CommitOrderRecorder`'s does.
public final class LeaderBatching<Item: Sendable, Output: Sendable>: Sendable {
    public typealias Work = @Sendable ([Item]) async throws -> [Output]

    private enum Turn {
        case answered(Result<Output, any Error>)
        case lead
    }

    private struct Waiting {
        let item: Item
        let continuation: CheckedContinuation<Turn, Never>
    }

    private struct State {
        var waiting: [Waiting] = []
        var leading = false
    }

    public let batchItemsMax: Int
    private let gathersFirst: Bool
    private let work: Work
    private let state = Mutex(State())
    /// Batches done (or tried): what shows, in tests and benchmarks, that items shared them.
    public let batches = Atomic(0)
    /// Items in all those batches.
    public let items = Atomic(0)

    /// `gathersFirst`: the leader yields once before taking the batch, so that callers already
    /// runnable (woken together by one event, such as one sealed log write) reach it and join.
    /// For work that costs far more than a yield, such as a signature.
    public init(batchItemsMax: Int, gathersFirst: Bool = false, work: @escaping Work) {
        self.batchItemsMax = max(1, batchItemsMax)
        self.gathersFirst = gathersFirst
        self.work = work
    }

    /// `item`'s output, done in a batch with whatever else is waiting.
    public func submit(_ item: Item) async throws -> Output {
        let turn = await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
            let leadNow = state.withLock { state -> Bool in
                guard !state.leading else {
                    state.waiting.append(Waiting(item: item, continuation: continuation))
                    return false
                }
                state.leading = true
                return true
            }
            if leadNow { continuation.resume(returning: .lead) }
        }
        switch turn {
        case .answered(let result): return try result.get()
        case .lead: return try await lead(with: item)
        }
    }

    private func lead(with own: Item) async throws -> Output {
        if gathersFirst { await Task.yield() }
        let others = state.withLock { state -> [Waiting] in
            let count = min(state.waiting.count, batchItemsMax - 1)
            defer { state.waiting.removeFirst(count) }
            return Array(state.waiting.prefix(count))
        }
        batches.add(1, ordering: .relaxed)
        items.add(others.count + 1, ordering: .relaxed)
        let outputs: Result<[Output], any Error>
        do {
            let done = try await work([own] + others.map(\.item))
            guard done.count == others.count + 1 else { throw BatchOutputMismatch(items: others.count + 1, outputs: done.count) }
            outputs = .success(done)
        } catch {
            outputs = .failure(error)
        }
        let nextLeader = state.withLock { state -> Waiting? in
            guard !state.waiting.isEmpty else {
                state.leading = false
                return nil
            }
            return state.waiting.removeFirst()
        }
        for (index, waiting) in others.enumerated() {
            waiting.continuation.resume(returning: .answered(outputs.map { $0[index + 1] }))
        }
        nextLeader?.continuation.resume(returning: .lead)
        return try outputs.get()[0]
    }
}

/// A batch's work answered a different number of outputs than it was given items: a bug in the
/// work, reported to every caller of the batch rather than trapping.
public struct BatchOutputMismatch: Error, CustomStringConvertible {
    public let items: Int
    public let outputs: Int
    public var description: String { "a batch of \(items) items produced \(outputs) outputs" }
}
