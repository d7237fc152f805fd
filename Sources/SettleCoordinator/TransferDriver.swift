import Foundation
import Logging
import SettleCore
import Tracing
import Synchronization

/// Drives one transfer's machine: performs each action it asks for (RPCs, log appends) and feeds
/// back what happened, one event at a time, until the machine is finished.
struct TransferDriver: Sendable {
    let coordinatorID: String
    let participants: any ParticipantCalling
    /// Where the transfer's records are sealed and its progress is reported.
    let registry: TransferRegistry
    let retry: RetryPolicy
    /// Attempts at one compensation before the transfer is declared stuck.
    let compensationRetriesMax: Int
    let metrics: CoordinatorMetrics
    let crashPoints: CrashPoints
    let abortRequests: AbortRequests
    let logger: Logger
    /// Deadlines, timers and backoff; the simulator's is manual.
    var clock: any DriverClock = SystemDriverClock()
    /// Where an operator's "retry now" reaches a transfer waiting between attempts.
    var nudges = RetryNudges()
    /// The time final facts are sealed with; the simulator's follows its clock, so a seed's
    /// records replay byte for byte.
    var wallMilliseconds: @Sendable () -> Int64 = WallClock.nowMilliseconds

    /// What one drive keeps between actions, beside the protocol machine.
    private struct Progress {
        var transfer: TransferProtocol
        var phaseTwoStarted: ContinuousClock.Instant?
        /// When each branch answered PREPARED, on `clock`, until its phase two answers.
        var preparedAt: [Int: Duration] = [:]
    }

    private enum Continuation { case going, done }

    /// Runs until the transfer is finished, or until the task is cancelled (shutdown): then the
    /// log still holds everything recovery needs to carry on. The loop only runs what the
    /// protocol machine asks for and feeds back what happened, one event at a time.
    func drive(_ start: DriverStart) async {
        guard let traceContext = start.traceContext else { return await driveUntraced(start) }
        await withSpan("settle.transfer", context: traceContext, ofKind: .internal) { span in
            span.attributes["settle.transfer.id"] = start.spec.id
            await driveUntraced(start)
        }
    }

    private func driveUntraced(_ start: DriverStart) async {
        let (events, sink) = AsyncStream.makeStream(of: TransferProtocol.Event.self)
        abortRequests.register(start.spec.id, start.admission) { reason in sink.yield(.abortRequested(reason: reason)) }
        defer { abortRequests.unregister(start.spec.id, start.admission) }
        let timing = Timing(
            started: ContinuousClock.now, prepareDeadline: start.prepareTimeout.map { clock.now + $0 },
            decision: DecisionPosition(start.decisionLSN ?? 0)
        )
        await withDiscardingTaskGroup { group in
            var progress = Progress(transfer: start.transfer)
            var actions = start.firstActions
            var iterator = events.makeAsyncIterator()
            while true {
                for action in actions {
                    let continuation = run(action, start, timing, &progress, sink) { work in group.addTask(operation: work) }
                    if continuation == .done {
                        sink.finish()
                        group.cancelAll()
                        return
                    }
                }
                guard let next = await nextActions(&iterator, &progress, start) else { return }  // cancelled: shutting down
                actions = next
            }
        }
    }

    private struct Timing {
        let started: ContinuousClock.Instant
        /// On `clock`.
        let prepareDeadline: Duration?
        let decision: DecisionPosition
    }

    /// The LSN of the latest sealed decision, which every phase-two command is signed over. Set
    /// by the task that sealed it before the `.logged` event is sent, so the commands the machine
    /// asks for in answer to that event read it.
    final class DecisionPosition: Sendable {
        private let lsn: Atomic<UInt64>
        init(_ lsn: UInt64) { self.lsn = Atomic(lsn) }
        var value: UInt64 { lsn.load(ordering: .acquiring) }
        func sealed(_ value: UInt64) { lsn.store(value, ordering: .releasing) }
    }

    /// Waits for the next event the machine accepts and returns what it asks for. An event it
    /// cannot take (a participant answering out of turn) is reported and dropped, never fatal:
    /// participants' answers must not be able to stop settled.
    private func nextActions(
        _ iterator: inout AsyncStream<TransferProtocol.Event>.Iterator, _ progress: inout Progress, _ start: DriverStart
    ) async -> [TransferProtocol.Action]? {
        while let event = await iterator.next() {
            if let actions = handle(event, &progress, start) { return actions }
        }
        return nil
    }

    /// Feeds one event to the machine and reports its progress; nil when the machine refused it.
    /// Never inlined into the async callers: whatever it keeps would otherwise sit in their frames,
    /// which every transfer in flight holds for as long as it waits.
    @inline(never)
    private func handle(
        _ event: TransferProtocol.Event, _ progress: inout Progress, _ start: DriverStart
    ) -> [TransferProtocol.Action]? {
        let actions: [TransferProtocol.Action]
        do {
            actions = try progress.transfer.handle(event)
        } catch {
            logger.critical("transfer machine rejected an event", metadata: ["transfer.id": "\(start.spec.id)", "error": "\(error)"])
            metrics.rejectedEvent()
            return nil
        }
        if case .commitAnswered = event { crashPoints.reached(.afterFirstCommit) }
        timeHeldBranches(event, &progress, start)
        let transfer = progress.transfer
        registry.updateLive(start.spec.id) { live in
            // Final statuses come from the final record, which also wakes waiters.
            let status = TransferStatus(transfer.phase)
            if !status.isFinal { live.status = status }
            live.branchStates = Self.describe(transfer)
            if let reason = transfer.reason { live.reason = reason }
        }
        return actions
    }

    private func timeHeldBranches(_ event: TransferProtocol.Event, _ progress: inout Progress, _ start: DriverStart) {
        switch event {
        case .prepareAnswered(let branch, .prepared):
            progress.preparedAt[branch] = clock.now
        case .commitAnswered(let branch, _), .rollbackAnswered(let branch, _):
            guard let preparedAt = progress.preparedAt.removeValue(forKey: branch) else { return }
            metrics.branchHeld(at: start.spec.branches[branch].participant, for: clock.now - preparedAt)
        default:
            return
        }
    }

    /// Runs one action: participant calls and timers as child tasks (through `spawn`), whose
    /// results come back as events; log records appended, their seals coming back as events.
    /// Never inlined into `drive`, for the reason `handle` gives.
    @inline(never)
    private func run(
        _ action: TransferProtocol.Action, _ start: DriverStart, _ timing: Timing, _ progress: inout Progress,
        _ sink: AsyncStream<TransferProtocol.Event>.Continuation, spawn: (sending @escaping @Sendable () async -> Void) -> Void
    ) -> Continuation {
        switch action {
        case .sendPrepare(let branches, let untilPrepareDeadline):
            let deadline = untilPrepareDeadline ? timing.prepareDeadline : nil
            for branch in branches {
                spawn {
                    if let answer = await prepare(start, branch: branch, until: deadline) { sink.yield(.prepareAnswered(branch: branch, answer)) }
                }
            }
        case .sendCommit(let branches):
            if progress.phaseTwoStarted == nil, progress.transfer.phase == .committing {
                crashPoints.reached(.afterCommitSealed)
                metrics.prepareDuration.record(duration: ContinuousClock.now - timing.started)
            }
            progress.phaseTwoStarted = progress.phaseTwoStarted ?? ContinuousClock.now
            let lsn = timing.decision.value
            for branch in branches {
                spawn {
                    if let answer = await commit(start, branch: branch, decisionLSN: lsn) { sink.yield(.commitAnswered(branch: branch, answer)) }
                }
            }
        case .sendRollback(let branches):
            let lsn = timing.decision.value
            for branch in branches {
                spawn {
                    if let answer = await rollback(start, branch: branch, decisionLSN: lsn) {
                        sink.yield(.rollbackAnswered(branch: branch, answer))
                    }
                }
            }
        case .compensate(let branch):
            let lsn = timing.decision.value
            spawn {
                switch await compensate(start, branch: branch, decisionLSN: lsn) {
                case .answered(let answer): sink.yield(.compensateAnswered(branch: branch, answer))
                case .gaveUp(let reason): sink.yield(.compensationGaveUp(branch: branch, reason: reason))
                case .cancelled: break
                }
            }
        case .log(let entry):
            log(entry, start, timing.decision, &progress, sink, spawn: spawn)
        case .armPrepareDeadline:
            guard let deadline = timing.prepareDeadline else { break }
            spawn {
                try? await clock.sleep(until: deadline)
                sink.yield(.prepareDeadlinePassed)
            }
        case .armSagaDeadline:
            progress.phaseTwoStarted = progress.phaseTwoStarted ?? ContinuousClock.now
            spawn {
                try? await clock.sleep(for: start.sagaTimeout)
                sink.yield(.sagaDeadlinePassed)
            }
        case .finished(let outcome):
            if let phaseTwoStarted = progress.phaseTwoStarted { metrics.commitDuration.record(duration: ContinuousClock.now - phaseTwoStarted) }
            metrics.transferDuration.record(duration: ContinuousClock.now - timing.started)
            metrics.history.finished(TransferStatus(outcome), after: ContinuousClock.now - timing.started)
            logger.debug("transfer finished", metadata: ["transfer.id": "\(start.spec.id)", "outcome": "\(outcome)"])
            return .done
        case .stuck(let reason):
            metrics.history.finished(.stuck, after: nil)
            logger.error("transfer is stuck; an operator must resolve it", metadata: ["transfer.id": "\(start.spec.id)", "reason": "\(reason)"])
            return .done
        }
        return .going
    }

    /// Appends the record for `entry`; its seal comes back as `logged(entry)`. The registry
    /// reports the ending a final record (END, STUCK) carries, at enqueue for a two-phase commit
    /// and once sealed otherwise (`TransferRegistry.append`).
    @inline(never)
    private func log(
        _ entry: TransferLogEntry, _ start: DriverStart, _ decision: DecisionPosition, _ progress: inout Progress,
        _ sink: AsyncStream<TransferProtocol.Event>.Continuation, spawn: (sending @escaping @Sendable () async -> Void) -> Void
    ) {
        var facts: FinalFacts?
        switch entry {
        case .end(let outcome):
            let path = progress.transfer.finalPath(outcome)
            facts = finalFacts(start, progress.transfer, path: path, reason: progress.transfer.reason)
            metrics.finished(path: path == .saga ? "saga-committed" : path.rawValue)
        case .stuck(let reason):
            facts = finalFacts(start, progress.transfer, path: progress.transfer.path, reason: reason)
        case .commit, .abort, .heuristic, .saga, .compensate:
            break
        }
        if entry == .commit { crashPoints.reached(.afterPrepares) }
        let record = record(for: entry, start, facts: facts)
        let decides = entry.isDecision
        let ending = facts?.status
        spawn {
            let lsn = await append(record)
            if decides { decision.sealed(lsn) }
            if let ending {
                metrics.finished(ending)
                metrics.inFlight.record(registry.inFlightCount)
            }
            sink.yield(.logged(entry))
        }
    }

    /// The facts the final record seals, which the registry reports from then on.
    private func finalFacts(_ start: DriverStart, _ transfer: TransferProtocol, path: TransferPath, reason: String?) -> FinalFacts {
        FinalFacts(
            status: TransferStatus(transfer.phase), path: path.rawValue,
            reason: reason ?? registry.entry(start.spec.id)?.reason ?? "", finishedAtMilliseconds: wallMilliseconds(),
            branchStates: Self.describe(transfer).map(Self.bounded), admission: start.admission
        )
    }

    private func record(for entry: TransferLogEntry, _ start: DriverStart, facts: FinalFacts?) -> CoordinatorRecord {
        let transferID = start.spec.id
        return switch entry {
        case .commit: .commit(transferID: transferID)
        case .abort(let reason): .abort(transferID: transferID, reason: reason)
        case .end(let outcome): .end(transferID: transferID, outcome: outcome, facts: facts)
        case .heuristic(let branch, let reason): .heuristic(transferID: transferID, branch: branch, reason: reason)
        case .saga: .saga(transferID: transferID, deadlineAtMilliseconds: wallMilliseconds() + start.sagaTimeout.wholeMilliseconds)
        case .compensate(let reason): .compensate(transferID: transferID, reason: reason)
        case .stuck(let reason): .stuck(transferID: transferID, reason: reason, facts: facts)
        }
    }

    /// Appends, waits for the seal, and times it.
    func append(_ record: CoordinatorRecord) async -> UInt64 {
        let clock = ContinuousClock()
        let started = clock.now
        let lsn = await registry.appendOrStop(record, logger: logger).rawValue
        metrics.sealDuration.record(duration: clock.now - started)
        return lsn
    }

}

enum WallClock {
    static func nowMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
