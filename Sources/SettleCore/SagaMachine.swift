/// A transfer after its SAGA decision is sealed, as a pure state machine: commit the branches in
/// the order the transfer lists them, each once every branch before it has committed, re-driving
/// the late ones, until all commit or the saga deadline passes; then,
/// if it must give up, seal COMPENSATE, cancel every branch that did not commit and compensate
/// every branch that did — in reverse branch order, one at a time, each exactly once — and end
/// as compensated (no net effect).
///
/// Why in order: a saga gives up atomic isolation, so what it commits can be used before the
/// saga ends. Committed all at once, a credit could commit while its debit, listed first, is
/// still to be re-driven; if that debit is then refused, the credit must be compensated, and that
/// fails when the money was spent meanwhile (the 10,000-transfer storm found it). In order, a
/// refusal of an earlier branch only cancels the later ones, which are prepared, not committed.
/// List the branch that may be refused (a debit) first.
///
/// Like `TransferMachine`: events in, one action out, impossible events rejected unchanged.
public struct SagaMachine: Sendable, Equatable {
    public enum Phase: Equatable, Sendable {
        /// Committing and re-driving.
        case forward
        /// COMPENSATE was handed to the log.
        case sealingCompensate(reason: String)
        case compensating
        case sealingEnd(TransferOutcome)
        case finished(TransferOutcome)
        /// STUCK was handed to the log.
        case sealingStuck(reason: String)
        /// Waiting for an operator's signed decision (MANUAL).
        case stuck(reason: String)
    }

    public enum BranchProgress: Equatable, Sendable {
        /// Re-driven: prepare sent again (idempotent at the participant).
        case awaitingPrepare
        /// Prepared after the compensation was decided: to be cancelled, never committed.
        case prepared
        /// Prepared in the forward phase; commits once every earlier branch has committed.
        case preparedAwaitingTurn
        case refused(reason: String)
        case awaitingCommit
        case committed
        case awaitingRollback
        case rolledBack
        /// Committed, waiting for its turn to be compensated (reverse branch order).
        case awaitingCompensation
        case compensating
        case compensated
    }

    public enum Action: Equatable, Sendable {
        /// Commit the prepared branches and re-drive the late ones; arm the saga deadline.
        case startForward(commit: [Int], redrive: [Int])
        case sendPrepare([Int])
        case sendCommit([Int])
        case log(TransferLogEntry)
        /// Cancel (roll back) the branches that did not commit, and compensate one, if any is due.
        case startCompensation(cancel: [Int], compensate: Int?)
        case sendRollback([Int])
        case compensate(Int)
        case finished(TransferOutcome)
        /// STUCK is sealed: report the transfer stuck and stop driving it.
        case stuck(reason: String)
        case wait
    }

    public private(set) var phase: Phase = .forward
    public private(set) var branches: [BranchProgress]

    /// Takes over from the two-phase machine once SAGA is sealed.
    public static func started(after preparing: [TransferMachine.BranchProgress]) -> (SagaMachine, Action) {
        let late = preparing.indices.filter { preparing[$0] != .prepared }
        var machine = SagaMachine(branches: preparing.map { $0 == .prepared ? .preparedAwaitingTurn : .awaitingPrepare })
        machine.phase = .forward
        let first = machine.releaseNextCommit()
        return (machine, .startForward(commit: first.map { [$0] } ?? [], redrive: late))
    }

    /// After a restart with SAGA sealed and nothing later: which branches committed is unknown, so
    /// every branch is re-driven (an already committed branch answers prepared, then committed).
    public static func resumingForward(branchCount: Int) -> (SagaMachine, Action) {
        let machine = SagaMachine(branches: Array(repeating: .awaitingPrepare, count: branchCount))
        return (machine, .startForward(commit: [], redrive: Array(0..<branchCount)))
    }

    /// After a restart with COMPENSATE sealed: every branch is cancelled; one that answers
    /// "already committed" is compensated instead.
    public static func resumingCompensation(branchCount: Int) -> (SagaMachine, Action) {
        var machine = SagaMachine(branches: Array(repeating: .awaitingRollback, count: branchCount))
        machine.phase = .compensating
        return (machine, .startCompensation(cancel: Array(0..<branchCount), compensate: nil))
    }

    /// A branch contradicted a decision (a re-drive refused after COMMIT, or a branch committed
    /// despite ABORT): undo the transfer. Seals COMPENSATE, then cancels what did not commit and
    /// compensates what did.
    public static func compensating(
        after twoPhase: [TransferMachine.BranchProgress], reason: String
    ) -> (SagaMachine, Action) {
        var machine = SagaMachine(
            branches: twoPhase.map { progress in
                switch progress {
                case .committed: .committed
                case .awaitingCommit: .awaitingCommit
                case .refused(let reason): .refused(reason: reason)
                default: .awaitingRollback
                }
            }
        )
        machine.phase = .sealingCompensate(reason: reason)
        return (machine, .log(.compensate(reason: reason)))
    }

    private init(branches: [BranchProgress]) {
        self.branches = branches
    }

    // MARK: Events

    public mutating func prepareAnswered(branch: Int, answer: PrepareAnswer) throws(TransitionError) -> Action {
        let event = "prepareAnswered(\(branch), \(answer))"
        try checkIndex(branch, event)
        switch (phase, branches[branch]) {
        case (.forward, .awaitingPrepare):
            switch answer {
            case .prepared:
                branches[branch] = .preparedAwaitingTurn
                return releaseNextCommit().map { .sendCommit([$0]) } ?? .wait
            case .refused(let reason):
                branches[branch] = .refused(reason: reason)
                return decideCompensation("branch \(branch) refused during the saga: \(reason)")
            }
        case (.sealingCompensate, .awaitingPrepare):
            branches[branch] = answer == .prepared ? .prepared : .refused(reason: "\(answer)")
            return .wait
        case (.compensating, .awaitingRollback), (.compensating, .rolledBack),
            (.sealingEnd(.compensated), .rolledBack), (.finished(.compensated), .rolledBack):
            // A re-drive answering after its cancellation: the cancel covers it.
            return .wait
        default:
            throw reject(event, "branch \(branch) is \(branches[branch])")
        }
    }

    public mutating func commitAnswered(branch: Int, answer: CommitAnswer) throws(TransitionError) -> Action {
        let event = "commitAnswered(\(branch), \(answer))"
        try checkIndex(branch, event)
        guard branches[branch] == .awaitingCommit else { throw reject(event, "branch \(branch) is \(branches[branch])") }
        switch (phase, answer) {
        case (.forward, .committed):
            branches[branch] = .committed
            guard branches.allSatisfy({ $0 == .committed }) else {
                return releaseNextCommit().map { .sendCommit([$0]) } ?? .wait
            }
            phase = .sealingEnd(.committed)
            return .log(.end(.committed))
        case (.forward, .heuristicRollback):
            branches[branch] = .awaitingPrepare
            return .sendPrepare([branch])
        case (.sealingCompensate, .committed):
            branches[branch] = .committed
            return .wait
        case (.sealingCompensate, .heuristicRollback):
            branches[branch] = .refused(reason: "heuristic rollback")
            return .wait
        case (.compensating, .committed):
            branches[branch] = .awaitingCompensation
            return nextStep()
        case (.compensating, .heuristicRollback):
            branches[branch] = .awaitingRollback
            return .sendRollback([branch])
        default:
            throw reject(event)
        }
    }

    public mutating func sagaDeadlinePassed() throws(TransitionError) -> Action {
        switch phase {
        case .forward:
            let late = branches.indices.filter { branches[$0] != .committed }
            return decideCompensation(
                "saga deadline passed before branches \(late.map(String.init).joined(separator: ", ")) committed"
            )
        case .sealingCompensate, .compensating, .sealingEnd, .finished, .sealingStuck, .stuck:
            return .wait
        }
    }

    /// The deadlock detector's victim: a saga still going forward gives up now, as at its
    /// deadline. Its late branches' re-driven Prepares wait on rows that other transfers' prepared
    /// branches hold, and only compensating lets those go before the saga deadline.
    public mutating func abortRequested(reason: String) -> Action {
        guard phase == .forward else { return .wait }
        return decideCompensation(reason)
    }

    public mutating func logged(_ entry: TransferLogEntry) throws(TransitionError) -> Action {
        switch (phase, entry) {
        case (.sealingCompensate(let pending), .compensate(let sealed)) where pending == sealed:
            phase = .compensating
            var cancel: [Int] = []
            for index in branches.indices {
                switch branches[index] {
                case .committed:
                    branches[index] = .awaitingCompensation
                case .awaitingCommit:
                    break  // its Commit is in flight: compensated once it answers
                default:
                    branches[index] = .awaitingRollback
                    cancel.append(index)
                }
            }
            return .startCompensation(cancel: cancel, compensate: startNextCompensation())
        case (.sealingEnd(let pending), .end(let sealed)) where pending == sealed:
            phase = .finished(sealed)
            return .finished(sealed)
        case (.sealingStuck(let pending), .stuck(let sealed)) where pending == sealed:
            phase = .stuck(reason: sealed)
            return .stuck(reason: sealed)
        default:
            throw reject("logged(\(entry))")
        }
    }

    public mutating func rollbackAnswered(branch: Int, answer: RollbackAnswer) throws(TransitionError) -> Action {
        let event = "rollbackAnswered(\(branch), \(answer))"
        try checkIndex(branch, event)
        guard phase == .compensating, branches[branch] == .awaitingRollback else {
            throw reject(event, "branch \(branch) is \(branches[branch])")
        }
        branches[branch] = answer == .rolledBack ? .rolledBack : .awaitingCompensation
        return nextStep()
    }

    public mutating func compensateAnswered(branch: Int, answer: CompensateAnswer) throws(TransitionError) -> Action {
        let event = "compensateAnswered(\(branch), \(answer))"
        try checkIndex(branch, event)
        guard phase == .compensating, branches[branch] == .compensating else {
            throw reject(event, "branch \(branch) is \(branches[branch])")
        }
        branches[branch] = .compensated
        return nextStep()
    }

    /// The driver's retry policy for this compensation is exhausted.
    public mutating func compensationGaveUp(branch: Int, reason: String) throws(TransitionError) -> Action {
        let event = "compensationGaveUp(\(branch))"
        try checkIndex(branch, event)
        guard phase == .compensating, branches[branch] == .compensating else {
            throw reject(event, "branch \(branch) is \(branches[branch])")
        }
        let stuck = "the compensation of branch \(branch) keeps failing: \(reason)"
        phase = .sealingStuck(reason: stuck)
        return .log(.stuck(reason: stuck))
    }

    // MARK: Helpers

    /// The first branch not yet committed, when it is prepared and so may commit now: the
    /// forward phase commits one branch at a time, in the order the transfer lists them.
    private mutating func releaseNextCommit() -> Int? {
        guard let next = branches.firstIndex(where: { $0 != .committed }), branches[next] == .preparedAwaitingTurn else {
            return nil
        }
        branches[next] = .awaitingCommit
        return next
    }

    private mutating func decideCompensation(_ reason: String) -> Action {
        phase = .sealingCompensate(reason: reason)
        return .log(.compensate(reason: reason))
    }

    /// Compensates the next branch if one is due, else ends when every branch is settled.
    private mutating func nextStep() -> Action {
        if let next = startNextCompensation() { return .compensate(next) }
        if branches.allSatisfy({ $0 == .rolledBack || $0 == .compensated }) {
            phase = .sealingEnd(.compensated)
            return .log(.end(.compensated))
        }
        return .wait
    }

    /// The highest committed branch still to compensate, provided none is being compensated and
    /// no higher branch may still commit (reverse order, one at a time).
    private mutating func startNextCompensation() -> Int? {
        guard !branches.contains(.compensating) else { return nil }
        guard let next = branches.indices.last(where: { branches[$0] == .awaitingCompensation }) else { return nil }
        guard !branches[(next + 1)...].contains(where: { $0 == .awaitingCommit || $0 == .awaitingRollback }) else { return nil }
        branches[next] = .compensating
        return next
    }

    private func checkIndex(_ branch: Int, _ event: String) throws(TransitionError) {
        guard branches.indices.contains(branch) else { throw reject(event, "no branch \(branch)") }
    }

    private func reject(_ event: String, _ detail: String = "") -> TransitionError {
        TransitionError(event: event, phase: .saga(phase), detail: detail)
    }
}
