import Foundation
import SettleClient
import SettleCore
import SettleProtocol
import Synchronization

/// Drives the workload the way a careful client does while everything around it fails: every
/// transfer is submitted, and on any error (coordinator down, deadline passed while a bank was
/// down) submitted again under the same id, which is idempotent, until the coordinator reports it
/// final. What it was told is kept, so the checks can hold the coordinator to it.
struct WorkloadRunner: Sendable {
    let transfers: [ChaosTransfer]
    let concurrency: Int
    /// settled's API: with failover, the active one's and its standby's.
    let addresses: [HostPort]
    /// A transfer not final by then is a failure of the run, not something to wait for forever.
    let perTransferLimit: Duration = .seconds(600)
    /// Awaited before the last tenth of the workload is claimed, so a storm that runs faster than
    /// its fault schedule still has transfers in flight for every fault it must have injected.
    var beforeLastTenth: (@Sendable () async -> Void)? = nil

    struct Outcome: Sendable {
        let state: Settle_V1_TransferState
        let reason: String
        /// "2pc", "saga", "compensated", "heuristic" or "manual".
        let path: String
        let attempts: Int
        /// Its branches' gids, as the coordinator named them: unique to this admission.
        let gids: [String]
    }

    struct TransferDidNotFinish: Error, CustomStringConvertible {
        let id: String
        let lastError: String
        var description: String { "transfer \(id) was not final after 600 s of resubmitting; last error: \(lastError)" }
    }

    func run(onFinal: @escaping @Sendable (Int) -> Void) async throws -> [Outcome] {
        let shared = Shared(count: transfers.count)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    func claim() async -> Int? {
                        let index = shared.next.add(1, ordering: .relaxed).oldValue
                        guard index < transfers.count else { return nil }
                        if let beforeLastTenth, index >= transfers.count - transfers.count / 10 { await beforeLastTenth() }
                        return index
                    }
                    var current = await claim()
                    var attempts = 0
                    var deadline = ContinuousClock.now + perTransferLimit
                    var lastError = ""
                    while let index = current {
                        // One connection until it fails; after a restart a fresh one connects at
                        // once where the old one could sit in its reconnect backoff.
                        do {
                            try await SettleClient.withFailover(
                                addresses: addresses, token: ChaosDeployment.clientToken, retryFor: .seconds(2)
                            ) { client in
                                while let index = current {
                                    attempts += 1
                                    let answer = try await client.submit(
                                        id: transfers[index].id, branches: transfers[index].branches,
                                        sagaFallback: transfers[index].sagaFallback,
                                        prepareOrder: transfers[index].ordered ? .ordered : .parallel, wait: true, timeout: .seconds(20)
                                    )
                                    guard answer.state.isFinal else {
                                        lastError = "still \(answer.state)"
                                        try await Task.sleep(for: .milliseconds(100))
                                        continue
                                    }
                                    shared.outcomes.withLock {
                                        $0[index] = Outcome(
                                            state: answer.state, reason: answer.reason, path: answer.path, attempts: attempts,
                                            gids: answer.branches.map(\.gid)
                                        )
                                    }
                                    onFinal(shared.finished.add(1, ordering: .relaxed).newValue)
                                    current = await claim()
                                    attempts = 0
                                    deadline = ContinuousClock.now + perTransferLimit
                                }
                            }
                        } catch {
                            lastError = "\(error)"
                        }
                        if current != nil {
                            guard ContinuousClock.now < deadline else {
                                throw TransferDidNotFinish(id: transfers[index].id, lastError: lastError)
                            }
                            try await Task.sleep(for: .milliseconds(Int.random(in: 50...(attempts < 5 ? 200 : 1000))))
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        return shared.outcomes.withLock { $0.map { $0! } }
    }
}

/// What the workers share: the next transfer to claim, and what each was told.
private final class Shared: Sendable {
    let next = Atomic<Int>(0)
    let finished = Atomic<Int>(0)
    let outcomes: Mutex<[WorkloadRunner.Outcome?]>

    init(count: Int) { outcomes = Mutex(Array(repeating: nil, count: count)) }
}

extension Settle_V1_TransferState {
    var isFinal: Bool { self == .committed || self == .aborted || self == .compensated || self == .stuck }
}
