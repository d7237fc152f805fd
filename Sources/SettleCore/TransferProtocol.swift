/// One transfer's whole protocol as a pure state machine (the shape of postgres-nio's
/// `ConnectionStateMachine`): it contains the two-phase machine and, once SAGA is sealed or a
/// heuristic hazard calls for compensation, the saga machine, and does every hand-off between
/// them itself. It takes each event the driver sees — answers, seals, deadlines, abort requests,
/// duplicate and late answers included — and returns the actions to run, timers among them. The
/// driver only runs actions; it decides nothing.
public struct TransferProtocol: Sendable, Equatable {
    public enum Event: Equatable, Sendable {
        case prepareAnswered(branch: Int, PrepareAnswer)
        case commitAnswered(branch: Int, CommitAnswer)
        case rollbackAnswered(branch: Int, RollbackAnswer)
        case compensateAnswered(branch: Int, CompensateAnswer)
        /// The driver's attempts at this compensation are exhausted.
        case compensationGaveUp(branch: Int, reason: String)
        case logged(TransferLogEntry)
        case prepareDeadlinePassed
        case sagaDeadlinePassed
        /// Someone outside the protocol asks to abort (the deadlock detector chose this transfer).
        case abortRequested(reason: String)
    }

    public enum Action: Equatable, Sendable {
        /// `untilPrepareDeadline`: each call gives up at the prepare deadline (the first prepares);
        /// otherwise it retries until answered (a re-drive after the decision).
        case sendPrepare([Int], untilPrepareDeadline: Bool)
        case sendCommit([Int])
        case sendRollback([Int])
        case compensate(Int)
        case log(TransferLogEntry)
        /// Deliver `prepareDeadlinePassed` once the transfer's prepare timeout has passed.
        case armPrepareDeadline
        /// Deliver `sagaDeadlinePassed` once the transfer's saga timeout has passed.
        case armSagaDeadline
        case finished(TransferOutcome)
        /// STUCK is sealed: an operator must resolve the transfer; nothing more to drive.
        case stuck(reason: String)
    }

    public enum Stage: Equatable, Sendable {
        case twoPhase(TransferMachine)
        case saga(SagaMachine)
    }

    public private(set) var stage: Stage
    /// How the transfer is being carried: two-phase commit, then possibly a saga or, after a
    /// heuristic outcome, compensation.
    public private(set) var path: TransferPath
    private var prepareDeadlineArmed = false

    public init(branchCount: Int, onPrepareTimeout: TransferSpec.OnPrepareTimeout = .abort, prepareSequence: [Int]? = nil) {
        stage = .twoPhase(
            TransferMachine(branchCount: branchCount, onPrepareTimeout: onPrepareTimeout, prepareSequence: prepareSequence)
        )
        path = .twoPhase
    }

    /// After a restart, from the last decision the log holds (COMMIT, ABORT, SAGA or COMPENSATE)
    /// with no END after it: phase two, the saga's forward re-drive, or the compensation, each
    /// from the start (every participant command is idempotent).
    public static func resuming(after decision: TransferLogEntry, branchCount: Int) throws(TransitionError) -> (Self, [Action]) {
        var resumed = TransferProtocol(branchCount: branchCount)
        switch decision {
        case .commit, .abort:
            let (machine, action) = try TransferMachine.resuming(branchCount: branchCount, decision: decision)
            resumed.stage = .twoPhase(machine)
            return (resumed, resumed.afterTwoPhase(action))
        case .saga:
            let (saga, action) = SagaMachine.resumingForward(branchCount: branchCount)
            resumed.stage = .saga(saga)
            resumed.path = .saga
            return (resumed, Self.translate(action))
        case .compensate:
            let (saga, action) = SagaMachine.resumingCompensation(branchCount: branchCount)
            resumed.stage = .saga(saga)
            resumed.path = .saga
            return (resumed, Self.translate(action))
        case .end, .heuristic, .stuck:
            throw TransitionError(event: "resuming", phase: .created, detail: "\(decision) is not a decision to resume")
        }
    }

    /// The phase in the two-phase machine's vocabulary (a saga is `.saga(phase)`).
    public var phase: TransferMachine.Phase {
        switch stage {
        case .twoPhase(let machine): machine.phase
        case .saga(let saga): .saga(saga.phase)
        }
    }

    /// Why the transfer is not committing, once there is a reason: the abort's, the hazard's or
    /// the compensation's.
    public var reason: String? {
        switch stage {
        case .twoPhase(let machine):
            if case .heuristicHazard(_, let hazard) = machine.phase { return hazard }
            if case .abort(let reason)? = machine.decision { return reason }
            return nil
        case .saga(let saga):
            if case .sealingCompensate(let reason) = saga.phase { return reason }
            return nil
        }
    }

    /// The path a transfer ending with `outcome` took.
    public func finalPath(_ outcome: TransferOutcome) -> TransferPath {
        switch (outcome, path) {
        case (.committed, .saga): .saga
        case (.compensated, .heuristic): .heuristic
        case (.compensated, _): .compensated
        default: .twoPhase
        }
    }

    // MARK: Events

    /// Starts a new transfer: arms the prepare deadline and sends the first prepares.
    public mutating func start() throws(TransitionError) -> [Action] {
        guard case .twoPhase(var machine) = stage else { throw TransitionError(event: "start", phase: phase, detail: "") }
        let action = try machine.started()
        stage = .twoPhase(machine)
        return afterTwoPhase(action)
    }

    /// An event the machine cannot take in its state throws `TransitionError` and changes nothing.
    public mutating func handle(_ event: Event) throws(TransitionError) -> [Action] {
        switch stage {
        case .twoPhase(var machine):
            let action = try Self.apply(event, to: &machine)
            stage = .twoPhase(machine)
            return afterTwoPhase(action)
        case .saga(var saga):
            if case .prepareAnswered(let branch, let answer) = event {
                // A first prepare and its re-drive may both answer; the second is a duplicate.
                guard let action = try? saga.prepareAnswered(branch: branch, answer: answer) else { return [] }
                stage = .saga(saga)
                return Self.translate(action)
            }
            let action = try Self.apply(event, to: &saga)
            stage = .saga(saga)
            return Self.translate(action)
        }
    }

    private static func apply(_ event: Event, to machine: inout TransferMachine) throws(TransitionError) -> TransferMachine.Action {
        switch event {
        case .prepareAnswered(let branch, let answer): try machine.prepareAnswered(branch: branch, answer: answer)
        case .commitAnswered(let branch, let answer): try machine.commitAnswered(branch: branch, answer: answer)
        case .rollbackAnswered(let branch, let answer): try machine.rollbackAnswered(branch: branch, answer: answer)
        case .logged(let entry): try machine.logged(entry)
        case .prepareDeadlinePassed: try machine.prepareDeadlinePassed()
        case .abortRequested(let reason): machine.abortRequested(reason: reason)
        case .sagaDeadlinePassed, .compensateAnswered, .compensationGaveUp:
            throw TransitionError(event: "\(event)", phase: machine.phase, detail: "no saga is running")
        }
    }

    private static func apply(_ event: Event, to saga: inout SagaMachine) throws(TransitionError) -> SagaMachine.Action {
        switch event {
        case .prepareAnswered(let branch, let answer): try saga.prepareAnswered(branch: branch, answer: answer)
        case .commitAnswered(let branch, let answer): try saga.commitAnswered(branch: branch, answer: answer)
        case .rollbackAnswered(let branch, let answer): try saga.rollbackAnswered(branch: branch, answer: answer)
        case .compensateAnswered(let branch, let answer): try saga.compensateAnswered(branch: branch, answer: answer)
        case .compensationGaveUp(let branch, let reason): try saga.compensationGaveUp(branch: branch, reason: reason)
        case .logged(let entry): try saga.logged(entry)
        case .sagaDeadlinePassed: try saga.sagaDeadlinePassed()
        case .abortRequested(let reason): saga.abortRequested(reason: reason)
        case .prepareDeadlinePassed: .wait  // decided already: it means nothing now
        }
    }

    // MARK: Hand-offs and translation

    /// The two-phase machine's action in this machine's vocabulary, then any hand-off to the saga
    /// machine that the new state calls for.
    private mutating func afterTwoPhase(_ action: TransferMachine.Action) -> [Action] {
        guard case .twoPhase(let machine) = stage else { return [] }
        var actions: [Action] = []
        switch action {
        case .sendPrepare(let branches) where machine.phase == .committing:
            actions = [.sendPrepare(branches, untilPrepareDeadline: false)]  // a re-drive after COMMIT
        case .sendPrepare(let branches):
            if !prepareDeadlineArmed {
                prepareDeadlineArmed = true
                actions.append(.armPrepareDeadline)
            }
            actions.append(.sendPrepare(branches, untilPrepareDeadline: true))
        case .log(let entry): actions = [.log(entry)]
        case .sendCommit(let branches): actions = [.sendCommit(branches)]
        case .sendRollback(let branches): actions = [.sendRollback(branches)]
        case .finished(let outcome): actions = [.finished(outcome)]
        case .wait: break
        }
        if machine.phase == .saga(.forward) {
            // SAGA is sealed: the saga machine carries on from what is known.
            let (saga, first) = SagaMachine.started(after: machine.branches)
            stage = .saga(saga)
            path = .saga
            actions += Self.translate(first)
        } else if case .heuristicHazard(_, let reason) = machine.phase, machine.hazardRecorded, !machine.hasPhaseTwoOutstanding {
            // HEURISTIC is sealed and every other branch answered: undo the transfer.
            let (saga, first) = SagaMachine.compensating(after: machine.branches, reason: reason)
            stage = .saga(saga)
            path = .heuristic
            actions += Self.translate(first)
        }
        return actions
    }

    private static func translate(_ action: SagaMachine.Action) -> [Action] {
        switch action {
        case .startForward(let commit, let redrive):
            (commit.isEmpty ? [] : [.sendCommit(commit)])
                + (redrive.isEmpty ? [] : [.sendPrepare(redrive, untilPrepareDeadline: false)]) + [.armSagaDeadline]
        case .sendPrepare(let branches): [.sendPrepare(branches, untilPrepareDeadline: false)]
        case .sendCommit(let branches): [.sendCommit(branches)]
        case .log(let entry): [.log(entry)]
        case .startCompensation(let cancel, let compensate):
            (cancel.isEmpty ? [] : [.sendRollback(cancel)]) + (compensate.map { [.compensate($0)] } ?? [])
        case .sendRollback(let branches): [.sendRollback(branches)]
        case .compensate(let branch): [.compensate(branch)]
        case .finished(let outcome): [.finished(outcome)]
        case .stuck(let reason): [.stuck(reason: reason)]
        case .wait: []
        }
    }
}

/// How a transfer was carried to its end. The raw values are those of the log's final facts and
/// of the metrics, kept so that existing logs still read.
public enum TransferPath: String, Codable, Sendable, CaseIterable {
    case twoPhase = "2pc"
    case saga
    case heuristic
    case compensated
}
