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
    /// Attempts at one compensation before the transfer is declared stuck.
    let compensationRetriesMax: Int
    /// The deadline of each phase-two and compensation call; a call past it is a failed attempt.
    let callTimeout: Duration
    let metrics: CoordinatorMetrics
    let crashPoints: CrashPoints
    let abortRequests: AbortRequests
    let logger: Logger

    private enum Event: Sendable {
        case prepareAnswered(Int, PrepareAnswer)
        case prepareDeadlinePassed
        case sagaDeadlinePassed
        case logged(TransferLogEntry)
        case commitAnswered(Int, CommitAnswer)
        case rollbackAnswered(Int, RollbackAnswer)
        case compensateAnswered(Int, CompensateAnswer)
        case compensationGaveUp(Int, String)
        /// The deadlock detector chose this transfer as a cycle's victim.
        case abortRequested(String)
    }

    /// The machine in charge: the two-phase machine, then (once SAGA is sealed) the saga machine.
    enum Machines {
        case twoPhase(TransferMachine)
        case saga(SagaMachine)

        var phase: TransferMachine.Phase {
            switch self {
            case .twoPhase(let machine): machine.phase
            case .saga(let saga): .saga(saga.phase)
            }
        }
    }

    /// One step for the driver: what a machine asked for, in either machine's vocabulary.
    private enum Step {
        case twoPhase(TransferMachine.Action)
        case saga(SagaMachine.Action)
    }

    /// Runs until the transfer is finished, or until the task is cancelled (shutdown): then the
    /// log still holds everything recovery needs to carry on.
    func drive(_ start: DriverStart) async {
        let spec = start.spec
        let (events, sink) = AsyncStream.makeStream(of: Event.self)
        abortRequests.register(spec.id, start.admission) { reason in sink.yield(.abortRequested(reason)) }
        defer { abortRequests.unregister(spec.id, start.admission) }
        let clock = ContinuousClock()
        let started = clock.now
        let prepareDeadline = started + start.prepareTimeout
        var phaseTwoStarted: ContinuousClock.Instant?
        await withDiscardingTaskGroup { group in
            var machines: Machines
            var step: Step
            if let (saga, action) = start.saga {
                machines = .saga(saga)
                step = .saga(action)
            } else {
                machines = .twoPhase(start.machine)
                step = .twoPhase(start.firstAction)
            }
            var deadlineArmed = false
            /// Computed when STUCK is handed to the log, applied once it is sealed.
            var stuckFacts: FinalFacts?
            /// How the transfer is finishing, for the metrics by path.
            var path = start.saga == nil ? "2pc" : "saga"

            func sendPrepare(_ branches: [Int], until deadline: ContinuousClock.Instant?) {
                for branch in branches {
                    group.addTask {
                        if let answer = await prepare(start, branch: branch, until: deadline) {
                            sink.yield(.prepareAnswered(branch, answer))
                        }
                    }
                }
            }
            func sendCommit(_ branches: [Int]) {
                for branch in branches {
                    group.addTask {
                        if let answer = await commit(start, branch: branch) { sink.yield(.commitAnswered(branch, answer)) }
                    }
                }
            }
            func sendRollback(_ branches: [Int]) {
                for branch in branches {
                    group.addTask {
                        if let answer = await rollback(start, branch: branch) { sink.yield(.rollbackAnswered(branch, answer)) }
                    }
                }
            }
            func sendCompensate(_ branch: Int) {
                group.addTask {
                    switch await compensate(start, branch: branch) {
                    case .answered(let answer): sink.yield(.compensateAnswered(branch, answer))
                    case .gaveUp(let reason): sink.yield(.compensationGaveUp(branch, reason))
                    case .cancelled: break
                    }
                }
            }
            func log(_ entry: TransferLogEntry) {
                var facts: FinalFacts?
                switch entry {
                case .end(let outcome):
                    let finalPath =
                        switch (outcome, path) {
                        case (.committed, "saga"): "saga"
                        case (.compensated, "heuristic"): "heuristic"
                        case (.compensated, _): "compensated"
                        default: "2pc"
                        }
                    // Reported at once: the decision is sealed, and END only records that every
                    // branch answered; a restart before END is sealed re-drives to the same end.
                    facts = finalFacts(start, machines, path: finalPath, reason: decisionReason(machines))
                    finishInTable(spec, facts)
                    metrics.finished(path: finalPath == "saga" ? "saga-committed" : finalPath)
                case .stuck(let reason):
                    // Reported only once sealed (the `.stuck` action): an operator may resolve a
                    // stuck transfer, and MANUAL must never reach the log before STUCK.
                    facts = finalFacts(start, machines, path: path, reason: reason)
                    stuckFacts = facts
                case .commit, .abort, .heuristic, .saga, .compensate:
                    break
                }
                if entry == .commit { crashPoints.reached(.afterPrepares) }
                group.addTask {
                    await append(record(for: entry, transferID: spec.id, facts: facts))
                    sink.yield(.logged(entry))
                }
            }
            func finished(_ outcome: TransferOutcome) {
                if let phaseTwoStarted { metrics.commitDuration.record(duration: clock.now - phaseTwoStarted) }
                metrics.transferDuration.record(duration: clock.now - started)
                logger.debug("transfer finished", metadata: ["transfer.id": "\(spec.id)", "outcome": "\(outcome)"])
            }

            while true {
                switch step {
                case .twoPhase(let action):
                    switch action {
                    case .sendPrepare(let branches):
                        if case .twoPhase(let machine) = machines, machine.phase == .committing {
                            sendPrepare(branches, until: nil)  // re-drive after a heuristic rollback
                        } else {
                            if !deadlineArmed {
                                deadlineArmed = true
                                group.addTask {
                                    try? await Task.sleep(until: prepareDeadline, clock: clock)
                                    sink.yield(.prepareDeadlinePassed)
                                }
                            }
                            sendPrepare(branches, until: prepareDeadline)
                        }
                    case .log(let entry):
                        log(entry)
                    case .sendCommit(let branches):
                        if case .twoPhase(let machine) = machines, machine.phase == .committing, phaseTwoStarted == nil {
                            crashPoints.reached(.afterCommitSealed)
                            phaseTwoStarted = clock.now
                            metrics.prepareDuration.record(duration: clock.now - started)
                        }
                        sendCommit(branches)
                    case .sendRollback(let branches):
                        sendRollback(branches)
                    case .finished(let outcome):
                        finished(outcome)
                        sink.finish()
                        group.cancelAll()
                        return
                    case .wait:
                        if case .twoPhase(let machine) = machines, machine.phase == .saga(.forward) {
                            // SAGA is sealed: the saga machine takes over from what is known.
                            let (saga, action) = SagaMachine.started(after: machine.branches)
                            path = "saga"
                            machines = .saga(saga)
                            step = .saga(action)
                            continue
                        }
                    }
                case .saga(let action):
                    switch action {
                    case .startForward(let commit, let redrive):
                        phaseTwoStarted = phaseTwoStarted ?? clock.now
                        sendCommit(commit)
                        sendPrepare(redrive, until: nil)
                        group.addTask {
                            try? await Task.sleep(for: start.sagaTimeout)
                            sink.yield(.sagaDeadlinePassed)
                        }
                    case .sendPrepare(let branches):
                        sendPrepare(branches, until: nil)
                    case .sendCommit(let branches):
                        sendCommit(branches)
                    case .log(let entry):
                        log(entry)
                    case .startCompensation(let cancel, let compensate):
                        sendRollback(cancel)
                        if let compensate { sendCompensate(compensate) }
                    case .sendRollback(let branches):
                        sendRollback(branches)
                    case .compensate(let branch):
                        sendCompensate(branch)
                    case .stuck(let reason):
                        finishInTable(spec, stuckFacts)
                        logger.error(
                            "transfer is stuck; an operator must resolve it", metadata: ["transfer.id": "\(spec.id)", "reason": "\(reason)"])
                        sink.finish()
                        group.cancelAll()
                        return
                    case .finished(let outcome):
                        finished(outcome)
                        sink.finish()
                        group.cancelAll()
                        return
                    case .wait:
                        break
                    }
                }
                if case .twoPhase(let machine) = machines, case .heuristicHazard(let branch, let reason) = machine.phase,
                    machine.hazardRecorded, !machine.hasPhaseTwoOutstanding
                {
                    // HEURISTIC is sealed and the other branches answered: undo the transfer.
                    logger.error(
                        "heuristic outcome; compensating", metadata: ["transfer.id": "\(spec.id)", "branch": "\(branch)", "reason": "\(reason)"]
                    )
                    let (saga, action) = SagaMachine.compensating(after: machine.branches, reason: reason)
                    path = "heuristic"
                    machines = .saga(saga)
                    step = .saga(action)
                    continue
                }
                // Wait for the next event the machine accepts.
                var next: Step?
                for await event in events {
                    do {
                        next = try apply(event, to: &machines)
                    } catch {
                        if case .prepareAnswered = event, case .saga = machines {
                            // In a saga the first prepare and its re-drive may both answer: the
                            // second is a duplicate, not a bug.
                            logger.debug("duplicate prepare answer in a saga", metadata: ["transfer.id": "\(spec.id)"])
                            continue
                        }
                        // An answer the machine cannot take (a participant answering out of turn,
                        // or an interleaving the machines do not model yet). It is reported and
                        // dropped, never fatal: participants' answers must not be able to stop
                        // settled, and a transfer left waiting shows in its state and metrics.
                        logger.critical("transfer machine rejected an event", metadata: ["transfer.id": "\(spec.id)", "error": "\(error)"])
                        metrics.rejectedEvent()
                        continue
                    }
                    if case .commitAnswered = event { crashPoints.reached(.afterFirstCommit) }
                    let phase = machines.phase
                    let branchStates = Self.describe(machines)
                    table.update(spec.id) { entry in
                        // Final statuses are set by `finish`, which also wakes waiters.
                        let status = TransferStatus(phase)
                        if !status.isFinal { entry.status = status }
                        entry.branchStates = branchStates
                        if let reason = decisionReason(machines) { entry.reason = reason }
                    }
                    break
                }
                guard let next else { return }  // cancelled: shutting down
                step = next
            }
        }
    }

    private func apply(_ event: Event, to machines: inout Machines) throws -> Step {
        switch machines {
        case .twoPhase(var machine):
            defer { machines = .twoPhase(machine) }
            switch event {
            case .prepareAnswered(let branch, let answer): return .twoPhase(try machine.prepareAnswered(branch: branch, answer: answer))
            case .prepareDeadlinePassed: return .twoPhase(try machine.prepareDeadlinePassed())
            case .abortRequested(let reason): return .twoPhase(machine.abortRequested(reason: reason))
            case .logged(let entry): return .twoPhase(try machine.logged(entry))
            case .commitAnswered(let branch, let answer): return .twoPhase(try machine.commitAnswered(branch: branch, answer: answer))
            case .rollbackAnswered(let branch, let answer): return .twoPhase(try machine.rollbackAnswered(branch: branch, answer: answer))
            case .sagaDeadlinePassed, .compensateAnswered, .compensationGaveUp:
                throw TransitionError(event: "\(event)", phase: machine.phase, detail: "no saga is running")
            }
        case .saga(var saga):
            defer { machines = .saga(saga) }
            switch event {
            case .prepareAnswered(let branch, let answer): return .saga(try saga.prepareAnswered(branch: branch, answer: answer))
            case .prepareDeadlinePassed, .abortRequested: return .saga(.wait)
            case .sagaDeadlinePassed: return .saga(try saga.sagaDeadlinePassed())
            case .logged(let entry): return .saga(try saga.logged(entry))
            case .commitAnswered(let branch, let answer): return .saga(try saga.commitAnswered(branch: branch, answer: answer))
            case .rollbackAnswered(let branch, let answer): return .saga(try saga.rollbackAnswered(branch: branch, answer: answer))
            case .compensateAnswered(let branch, let answer): return .saga(try saga.compensateAnswered(branch: branch, answer: answer))
            case .compensationGaveUp(let branch, let reason): return .saga(try saga.compensationGaveUp(branch: branch, reason: reason))
            }
        }
    }

    private func decisionReason(_ machines: Machines) -> String? {
        switch machines {
        case .twoPhase(let machine):
            if case .heuristicHazard(_, let hazard) = machine.phase { return hazard }
            if case .abort(let reason)? = machine.decision { return reason }
            return nil
        case .saga(let saga):
            if case .sealingCompensate(let reason) = saga.phase { return reason }
            return nil
        }
    }

    /// The facts the final record seals; the table gets the same value.
    private func finalFacts(_ start: DriverStart, _ machines: Machines, path: String, reason: String?) -> FinalFacts {
        let current = table.entry(start.spec.id)
        return FinalFacts(
            status: TransferStatus(machines.phase), path: path, reason: reason ?? current?.reason ?? "",
            finishedAtMilliseconds: WallClock.nowMilliseconds(), branchStates: Self.describe(machines).map(Self.bounded),
            admission: start.admission
        )
    }

    private func finishInTable(_ spec: TransferSpec, _ facts: FinalFacts?) {
        guard let facts else { return }
        table.finish(spec.id, facts)
        metrics.finished(facts.status)
        metrics.inFlight.record(table.inFlightCount)
    }

    private func record(for entry: TransferLogEntry, transferID: String, facts: FinalFacts?) -> CoordinatorRecord {
        switch entry {
        case .commit: .commit(transferID: transferID)
        case .abort(let reason): .abort(transferID: transferID, reason: reason)
        case .end(let outcome): .end(transferID: transferID, outcome: outcome, facts: facts)
        case .heuristic(let branch, let reason): .heuristic(transferID: transferID, branch: branch, reason: reason)
        case .saga: .saga(transferID: transferID)
        case .compensate(let reason): .compensate(transferID: transferID, reason: reason)
        case .stuck(let reason): .stuck(transferID: transferID, reason: reason, facts: facts)
        }
    }

    /// Appends, waits for the seal, and times it.
    func append(_ record: CoordinatorRecord) async {
        let clock = ContinuousClock()
        let started = clock.now
        await journal.appendOrStop(record, logger: logger)
        metrics.sealDuration.record(duration: clock.now - started)
    }

}

enum WallClock {
    static func nowMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
