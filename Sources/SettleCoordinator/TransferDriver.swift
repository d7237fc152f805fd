import Foundation
import GRPCCore
import Logging
import SettleCore
import SettleProtocol

/// Drives one transfer's machine: performs each action it asks for (RPCs, log appends) and feeds
/// back what happened, one event at a time, until the machine is finished.
struct TransferDriver: Sendable {
    let coordinatorID: String
    let journal: Journal
    let links: [String: ParticipantLink]
    let table: TransferTable
    let retry: RetryPolicy
    let metrics: CoordinatorMetrics
    let crashPoints: CrashPoints
    let logger: Logger

    private enum Event: Sendable {
        case prepareAnswered(Int, PrepareAnswer)
        case prepareDeadlinePassed
        case logged(TransferLogEntry)
        case commitAnswered(Int, CommitAnswer)
        case rollbackAnswered(Int, RollbackAnswer)
    }

    /// Runs until the transfer is finished, or until the task is cancelled (shutdown): then the
    /// log still holds everything recovery needs to carry on.
    func drive(_ spec: TransferSpec, machine initial: TransferMachine, firstAction: TransferMachine.Action, prepareTimeout: Duration) async {
        let (events, sink) = AsyncStream.makeStream(of: Event.self)
        let clock = ContinuousClock()
        let started = clock.now
        let prepareDeadline = started + prepareTimeout
        var phaseTwoStarted: ContinuousClock.Instant?
        await withDiscardingTaskGroup { group in
            var machine = initial
            var action = firstAction
            var deadlineArmed = false
            while true {
                switch action {
                case .sendPrepare(let branches):
                    let redrive = machine.phase == .committing
                    if !redrive && !deadlineArmed {
                        deadlineArmed = true
                        group.addTask {
                            try? await Task.sleep(until: prepareDeadline, clock: clock)
                            sink.yield(.prepareDeadlinePassed)
                        }
                    }
                    for branch in branches {
                        group.addTask {
                            if let answer = await prepare(spec, branch: branch, until: redrive ? nil : prepareDeadline) {
                                sink.yield(.prepareAnswered(branch, answer))
                            }
                        }
                    }
                case .log(let entry):
                    if case .end = entry { finishInTable(spec, machine: machine, started: started) }
                    if entry == .commit { crashPoints.reached(.afterPrepares) }
                    group.addTask {
                        await append(record(for: entry, transferID: spec.id))
                        sink.yield(.logged(entry))
                    }
                case .sendCommit(let branches):
                    if machine.phase == .committing, phaseTwoStarted == nil {
                        crashPoints.reached(.afterCommitSealed)
                        phaseTwoStarted = clock.now
                        metrics.prepareDuration.record(duration: clock.now - started)
                    }
                    for branch in branches {
                        group.addTask {
                            if let answer = await commit(spec, branch: branch) { sink.yield(.commitAnswered(branch, answer)) }
                        }
                    }
                case .sendRollback(let branches):
                    for branch in branches {
                        group.addTask {
                            if let answer = await rollback(spec, branch: branch) { sink.yield(.rollbackAnswered(branch, answer)) }
                        }
                    }
                case .finished(let outcome):
                    if let phaseTwoStarted { metrics.commitDuration.record(duration: clock.now - phaseTwoStarted) }
                    metrics.transferDuration.record(duration: clock.now - started)
                    logger.debug("transfer finished", metadata: ["transfer.id": "\(spec.id)", "outcome": "\(outcome)"])
                    sink.finish()
                    group.cancelAll()
                    return
                case .wait:
                    break
                }
                if case .heuristicHazard(let branch, let reason) = machine.phase, machine.hazardRecorded,
                    !machine.hasPhaseTwoOutstanding
                {
                    finishInTable(spec, machine: machine, started: started)
                    logger.error(
                        "transfer needs an operator", metadata: ["transfer.id": "\(spec.id)", "branch": "\(branch)", "reason": "\(reason)"]
                    )
                    group.cancelAll()
                    return
                }
                // Wait for the next event the machine accepts.
                var next: TransferMachine.Action?
                for await event in events {
                    do {
                        next = try apply(event, to: &machine)
                    } catch {
                        // The driver fed an event the machine cannot take: a bug, reported loudly.
                        logger.critical("transfer machine rejected an event", metadata: ["transfer.id": "\(spec.id)", "error": "\(error)"])
                        preconditionFailure("\(error)")
                    }
                    if case .commitAnswered = event { crashPoints.reached(.afterFirstCommit) }
                    table.update(spec.id) { entry in
                        // Final statuses are set by `finish`, which also wakes waiters.
                        let status = TransferStatus(machine.phase)
                        if !status.isFinal { entry.status = status }
                        entry.branchStates = machine.branches.map(Self.describe)
                        if case .abort(let reason)? = machine.decision { entry.reason = reason }
                    }
                    break
                }
                guard let next else { return }  // cancelled: shutting down
                action = next
            }
        }
    }

    private func apply(_ event: Event, to machine: inout TransferMachine) throws -> TransferMachine.Action {
        switch event {
        case .prepareAnswered(let branch, let answer): try machine.prepareAnswered(branch: branch, answer: answer)
        case .prepareDeadlinePassed: try machine.prepareDeadlinePassed()
        case .logged(let entry): try machine.logged(entry)
        case .commitAnswered(let branch, let answer): try machine.commitAnswered(branch: branch, answer: answer)
        case .rollbackAnswered(let branch, let answer): try machine.rollbackAnswered(branch: branch, answer: answer)
        }
    }

    private func finishInTable(_ spec: TransferSpec, machine: TransferMachine, started: ContinuousClock.Instant) {
        let status = TransferStatus(machine.phase)
        var reason = ""
        if case .abort(let abortReason)? = machine.decision { reason = abortReason }
        if case .heuristicHazard(_, let hazard) = machine.phase { reason = hazard }
        table.update(spec.id) { entry in entry.branchStates = machine.branches.map(Self.describe) }
        table.finish(spec.id, status: status, reason: reason, atMilliseconds: WallClock.nowMilliseconds())
        metrics.finished(status)
        metrics.inFlight.record(table.inFlightCount)
    }

    private func record(for entry: TransferLogEntry, transferID: String) -> CoordinatorRecord {
        switch entry {
        case .commit: .commit(transferID: transferID)
        case .abort(let reason): .abort(transferID: transferID, reason: reason)
        case .end(let outcome): .end(transferID: transferID, outcome: outcome)
        case .heuristic(let branch, let reason): .heuristic(transferID: transferID, branch: branch, reason: reason)
        case .saga: .saga(transferID: transferID)
        case .compensate(let reason): .compensate(transferID: transferID, reason: reason)
        }
    }

    /// Appends and waits for the seal. A log that cannot be written leaves the coordinator unable
    /// to decide anything safely: it stops, and recovery continues from the last seal.
    func append(_ record: CoordinatorRecord) async {
        let clock = ContinuousClock()
        let started = clock.now
        do {
            try await journal.append(record)
        } catch {
            logger.critical("the recovery log failed; stopping", metadata: ["error": "\(error)"])
            fatalError("the recovery log failed: \(error); restarting settled recovers from the last seal")
        }
        metrics.sealDuration.record(duration: clock.now - started)
    }

    // MARK: Participant calls

    private func gid(_ spec: TransferSpec, _ branch: Int) -> String {
        "settle:\(coordinatorID):\(spec.id):\(branch)"
    }

    /// Prepares one branch, retrying transient failures until `deadline` (nil: until answered).
    /// Nil when the deadline passed first; a non-transient failure is a refusal with its reason.
    private func prepare(_ spec: TransferSpec, branch: Int, until deadline: ContinuousClock.Instant?) async -> PrepareAnswer? {
        let target = spec.branches[branch]
        guard let link = links[target.participant] else {
            return .refused(reason: "participant \(target.participant) is not configured")
        }
        var request = Settle_V1_PrepareRequest()
        request.gid = gid(spec, branch)
        request.action = target.action
        request.payload = target.payload
        var attempt = 0
        while !Task.isCancelled {
            var options = CallOptions.defaults
            if let deadline {
                let remaining = deadline - ContinuousClock.now
                guard remaining > .zero else { return nil }
                options.timeout = remaining
            }
            do {
                let response = try await link.preparing.prepare(request, metadata: link.metadata, options: options)
                metrics.reachable(link.name, true)
                switch response.outcome {
                case .prepared: return .prepared
                case .refused:
                    let kind = response.refusalKind == .cancelled ? "cancelled" : "refused"
                    return .refused(reason: "\(target.participant) \(kind): \(response.reason)")
                default:
                    return .refused(reason: "\(target.participant) answered an unknown prepare outcome")
                }
            } catch let error as RPCError where Self.isTransient(error.code) {
                metrics.reachable(link.name, error.code != .unavailable)
                metrics.retried("prepare", participant: link.name)
            } catch let error as RPCError {
                return .refused(reason: "\(target.participant) failed: \(error.code): \(error.message)")
            } catch {
                metrics.retried("prepare", participant: link.name)
            }
            try? await Task.sleep(for: retry.delay(afterAttempt: attempt))
            attempt += 1
        }
        return nil
    }

    private func commit(_ spec: TransferSpec, branch: Int) async -> CommitAnswer? {
        await untilAnswered("commit", spec, branch) { link, gid in
            let response = try await link.phaseTwo.commit(.with { $0.gid = gid }, metadata: link.metadata)
            switch response.outcome {
            case .committed: return .committed
            case .heuristicRollback: return .heuristicRollback
            default: return nil
            }
        }
    }

    private func rollback(_ spec: TransferSpec, branch: Int) async -> RollbackAnswer? {
        await untilAnswered("rollback", spec, branch) { link, gid in
            let response = try await link.phaseTwo.rollback(.with { $0.gid = gid }, metadata: link.metadata)
            switch response.outcome {
            case .rolledBack: return .rolledBack
            case .alreadyCommitted: return .alreadyCommitted
            default: return nil
            }
        }
    }

    /// Phase two never gives up: the decision is sealed, so the only way forward is through.
    /// Returns nil only when the task is cancelled (shutdown); recovery then finishes the job.
    private func untilAnswered<Answer: Sendable>(
        _ operation: String, _ spec: TransferSpec, _ branch: Int,
        _ call: (ParticipantLink, String) async throws -> Answer?
    ) async -> Answer? {
        let participant = spec.branches[branch].participant
        let gid = gid(spec, branch)
        var attempt = 0
        while true {
            if let link = links[participant] {
                do {
                    if let answer = try await call(link, gid) {
                        metrics.reachable(participant, true)
                        return answer
                    }
                } catch {
                    metrics.reachable(participant, false)
                    if attempt == 0 || attempt % 20 == 0 {
                        logger.warning(
                            "\(operation) not answered; retrying",
                            metadata: ["gid": "\(gid)", "attempt": "\(attempt)", "error": "\(error)"]
                        )
                    }
                }
            }
            metrics.retried(operation, participant: participant)
            do {
                try await Task.sleep(for: retry.delay(afterAttempt: attempt))
            } catch {
                return nil
            }
            attempt += 1
        }
    }

    private static func isTransient(_ code: RPCError.Code) -> Bool {
        code == .aborted || code == .unavailable || code == .deadlineExceeded || code == .resourceExhausted || code == .cancelled
    }

    static func describe(_ progress: TransferMachine.BranchProgress) -> String {
        switch progress {
        case .notSent: "pending"
        case .awaitingPrepare: "preparing"
        case .prepared: "prepared"
        case .refused(let reason): "refused: \(reason)"
        case .awaitingCommit: "committing"
        case .committed: "committed"
        case .awaitingRedrive: "heuristic-rollback, re-driving"
        case .awaitingRollback: "rolling-back"
        case .rolledBack: "rolled-back"
        }
    }
}

enum WallClock {
    static func nowMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
