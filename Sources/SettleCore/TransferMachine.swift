/// One transfer's two-phase commit as a pure state machine: events in (answers, deadlines, log
/// seals), one action out. No I/O, no clocks, no continuations: the coordinator is the driver.
///
/// Presumed abort: only COMMIT (and SAGA, which also leads to commits) must be sealed before anyone
/// acts on it; ABORT is logged for the audit trail. Once COMMIT is logged, the transfer only moves
/// forward. An event that cannot happen in the current state is rejected with `TransitionError`,
/// never ignored: it means the driver is wrong.
public struct TransferMachine: Sendable, Equatable {
    public enum Phase: Equatable, Sendable {
        case created
        case preparing
        /// A decision was handed to the log; nothing acts on it until it is sealed.
        case sealingDecision(TransferLogEntry)
        case committing
        case aborting
        /// END was handed to the log.
        case sealingEnd(TransferOutcome)
        case finished(TransferOutcome)
        /// A branch contradicted the decision; compensation or an operator must finish it.
        case heuristicHazard(branch: Int, reason: String)
        /// SAGA is sealed: `SagaMachine` carries the transfer on (this phase names it in errors).
        case saga(SagaMachine.Phase)
    }

    public enum BranchProgress: Equatable, Sendable {
        case notSent
        case awaitingPrepare
        case prepared
        case refused(reason: String)
        case awaitingCommit
        case committed
        /// Committed was expected but the branch was rolled back: prepared again, then committed.
        case awaitingRedrive
        case awaitingRollback
        case rolledBack
    }

    public enum Action: Equatable, Sendable {
        case sendPrepare([Int])
        case log(TransferLogEntry)
        case sendCommit([Int])
        case sendRollback([Int])
        case finished(TransferOutcome)
        /// Nothing to do until the next event.
        case wait
    }

    public private(set) var phase: Phase = .created
    public private(set) var branches: [BranchProgress]
    /// COMMIT, ABORT or SAGA, from the moment it is handed to the log (COMPENSATE is `SagaMachine`'s).
    public private(set) var decision: TransferLogEntry?
    /// In a hazard: the HEURISTIC record is sealed.
    public private(set) var hazardRecorded = false

    /// Phase-two commands still unanswered. In a hazard the decision still stands for the other
    /// branches, so the driver keeps going until none is left.
    public var hasPhaseTwoOutstanding: Bool {
        branches.contains { $0 == .awaitingCommit || $0 == .awaitingRollback || $0 == .awaitingRedrive }
    }

    /// What the prepare deadline leads to: abort (the default), or a saga.
    public let onPrepareTimeout: TransferSpec.OnPrepareTimeout

    /// Prepares are sent one at a time in this order, each once the one before it is prepared;
    /// nil sends every prepare at once.
    public let prepareSequence: [Int]?

    /// `prepareSequence` must be a permutation of the branch indices (`TransferSpec.canonicalPrepareOrder`).
    public init(branchCount: Int, onPrepareTimeout: TransferSpec.OnPrepareTimeout = .abort, prepareSequence: [Int]? = nil) {
        precondition((1...Limits.branchesPerTransferMax).contains(branchCount), "\(branchCount) branches")
        precondition(prepareSequence.map { $0.sorted() == Array(0..<branchCount) } ?? true, "not a permutation of the branches")
        branches = Array(repeating: .notSent, count: branchCount)
        self.onPrepareTimeout = onPrepareTimeout
        self.prepareSequence = prepareSequence
    }

    /// After a restart: a transfer whose decision is sealed and whose END is not resumes phase two
    /// from the start (every phase-two command is idempotent).
    public static func resuming(branchCount: Int, decision: TransferLogEntry) throws(TransitionError) -> (TransferMachine, Action) {
        var machine = TransferMachine(branchCount: branchCount)
        switch decision {
        case .commit, .abort:
            machine.phase = .sealingDecision(decision)
            machine.decision = decision
        case .end, .heuristic, .saga, .compensate, .stuck:
            throw TransitionError(event: "resuming", phase: .created, detail: "\(decision) is not a decision to resume")
        }
        let action = try machine.logged(decision)
        return (machine, action)
    }

    public var isFinished: Bool {
        if case .finished = phase { return true }
        return false
    }

    // MARK: Events

    public mutating func started() throws(TransitionError) -> Action {
        guard phase == .created else { throw reject("started") }
        phase = .preparing
        guard let first = prepareSequence?.first else {
            branches = branches.map { _ in .awaitingPrepare }
            return .sendPrepare(Array(branches.indices))
        }
        branches[first] = .awaitingPrepare
        return .sendPrepare([first])
    }

    /// In an ordered prepare, the next branch not yet sent.
    private var nextInSequence: Int? {
        prepareSequence?.first { branches[$0] == .notSent }
    }

    public mutating func prepareAnswered(branch: Int, answer: PrepareAnswer) throws(TransitionError) -> Action {
        let event = "prepareAnswered(\(branch), \(answer))"
        guard branches.indices.contains(branch) else { throw reject(event, "no branch \(branch)") }
        if case .abort = decision {
            // A late answer after the abort: the rollback sent to every branch covers it, and
            // the participant refuses any prepare that arrives after its rollback.
            if branches[branch] == .awaitingPrepare {
                branches[branch] = answer == .prepared ? .prepared : .refused(reason: "\(answer)")
            }
            return .wait
        }
        switch (phase, branches[branch]) {
        case (.preparing, .awaitingPrepare):
            switch answer {
            case .prepared:
                branches[branch] = .prepared
                if let next = nextInSequence {
                    branches[next] = .awaitingPrepare
                    return .sendPrepare([next])
                }
                guard branches.allSatisfy({ $0 == .prepared }) else { return .wait }
                return decide(.commit)
            case .refused(let reason):
                // In an ordered prepare the branches not yet sent are rolled back with the rest:
                // the rollback leaves a marker that refuses any later prepare of their gids.
                branches[branch] = .refused(reason: reason)
                return decide(.abort(reason: "branch \(branch) refused: \(reason)"))
            }
        case (.sealingDecision(.saga), .awaitingPrepare):
            // Answered while SAGA is being sealed: the saga machine starts from what is known.
            branches[branch] = answer == .prepared ? .prepared : .refused(reason: "\(answer)")
            return .wait
        case (.committing, .awaitingRedrive):
            switch answer {
            case .prepared:
                branches[branch] = .awaitingCommit
                return .sendCommit([branch])
            case .refused(let reason):
                let hazard = "re-drive of branch \(branch) after COMMIT was refused: \(reason)"
                branches[branch] = .refused(reason: reason)
                phase = .heuristicHazard(branch: branch, reason: hazard)
                return .log(.heuristic(branch: branch, reason: hazard))
            }
        case (.heuristicHazard, .awaitingRedrive):
            // Another branch's re-drive answered after the hazard: the compensation that follows
            // cancels it if prepared, and undoes nothing if refused.
            branches[branch] = answer == .prepared ? .prepared : .refused(reason: "\(answer)")
            return .wait
        default:
            throw reject(event, "branch \(branch) is \(branches[branch])")
        }
    }

    private mutating func decide(_ entry: TransferLogEntry) -> Action {
        decision = entry
        phase = .sealingDecision(entry)
        return .log(entry)
    }

    public mutating func prepareDeadlinePassed() throws(TransitionError) -> Action {
        switch phase {
        case .created:
            throw reject("prepareDeadlinePassed")
        case .preparing:
            if onPrepareTimeout == .saga { return decide(.saga) }
            let late = branches.indices.filter { branches[$0] != .prepared }
            return decide(
                .abort(reason: "prepare deadline passed before branches \(late.map(String.init).joined(separator: ", ")) prepared")
            )
        case .sealingDecision, .committing, .aborting, .sealingEnd, .finished, .heuristicHazard, .saga:
            // Decided already: the prepare deadline no longer means anything.
            return .wait
        }
    }

    /// Someone outside the protocol asks to abort (the deadlock detector chose this transfer as a
    /// cycle's victim). Only an undecided transfer can still be aborted; after the decision the
    /// request means nothing.
    public mutating func abortRequested(reason: String) -> Action {
        switch phase {
        case .preparing:
            return decide(.abort(reason: reason))
        case .created, .sealingDecision, .committing, .aborting, .sealingEnd, .finished, .heuristicHazard, .saga:
            return .wait
        }
    }

    /// The log reports `entry` appended (and, for decisions, sealed).
    public mutating func logged(_ entry: TransferLogEntry) throws(TransitionError) -> Action {
        switch (phase, entry) {
        case (.sealingDecision(.commit), .commit):
            phase = .committing
            branches = branches.map { _ in .awaitingCommit }
            return .sendCommit(Array(branches.indices))
        case (.sealingDecision(.abort(let pending)), .abort(let sealed)) where pending == sealed:
            phase = .aborting
            branches = branches.map { _ in .awaitingRollback }
            return .sendRollback(Array(branches.indices))
        case (.sealingDecision(.saga), .saga):
            // The saga machine takes over from here (`SagaMachine.started(after: branches)`).
            phase = .saga(.forward)
            return .wait
        case (.sealingEnd(let pending), .end(let sealed)) where pending == sealed:
            phase = .finished(sealed)
            return .finished(sealed)
        case (.committing, .heuristic(let branch, _)) where branches.indices.contains(branch) && branches[branch] == .awaitingRedrive:
            return .sendPrepare([branch])
        case (.heuristicHazard(let branch, let reason), .heuristic(let loggedBranch, let loggedReason))
        where branch == loggedBranch && reason == loggedReason && !hazardRecorded:
            hazardRecorded = true
            return .wait
        case (.heuristicHazard(let branch, _), .heuristic(let other, _)) where other != branch && branches.indices.contains(other):
            // Another branch's heuristic rollback, sealed after the hazard: it is not re-driven,
            // since the transfer is to be compensated; the compensation's cancel settles it.
            if branches[other] == .awaitingRedrive { branches[other] = .rolledBack }
            return .wait
        default:
            throw reject("logged(\(entry))")
        }
    }

    public mutating func commitAnswered(branch: Int, answer: CommitAnswer) throws(TransitionError) -> Action {
        let event = "commitAnswered(\(branch), \(answer))"
        guard branches.indices.contains(branch) else { throw reject(event, "no branch \(branch)") }
        if case .heuristicHazard = phase, branches[branch] == .awaitingCommit {
            // The others still follow the COMMIT decision; record what happened and go on.
            branches[branch] = answer == .committed ? .committed : .rolledBack
            return .wait
        }
        guard phase == .committing, branches[branch] == .awaitingCommit else {
            throw reject(event, "branch \(branch) is \(branches[branch])")
        }
        switch answer {
        case .committed:
            branches[branch] = .committed
            guard branches.allSatisfy({ $0 == .committed }) else { return .wait }
            phase = .sealingEnd(.committed)
            return .log(.end(.committed))
        case .heuristicRollback:
            // After COMMIT the transfer only moves forward: record what happened, then prepare
            // the branch again under the same gid and commit it.
            branches[branch] = .awaitingRedrive
            return .log(.heuristic(branch: branch, reason: "branch \(branch) was rolled back after COMMIT; re-driving it"))
        }
    }

    public mutating func rollbackAnswered(branch: Int, answer: RollbackAnswer) throws(TransitionError) -> Action {
        let event = "rollbackAnswered(\(branch), \(answer))"
        guard branches.indices.contains(branch) else { throw reject(event, "no branch \(branch)") }
        if case .heuristicHazard = phase, branches[branch] == .awaitingRollback {
            branches[branch] = answer == .rolledBack ? .rolledBack : .committed
            return .wait
        }
        guard phase == .aborting, branches[branch] == .awaitingRollback else {
            throw reject(event, "branch \(branch) is \(branches[branch])")
        }
        switch answer {
        case .rolledBack:
            branches[branch] = .rolledBack
            guard branches.allSatisfy({ $0 == .rolledBack }) else { return .wait }
            phase = .sealingEnd(.aborted)
            return .log(.end(.aborted))
        case .alreadyCommitted:
            let hazard = "branch \(branch) committed although the transfer was aborted"
            branches[branch] = .committed
            phase = .heuristicHazard(branch: branch, reason: hazard)
            return .log(.heuristic(branch: branch, reason: hazard))
        }
    }

    private func reject(_ event: String, _ detail: String = "") -> TransitionError {
        TransitionError(event: event, phase: phase, detail: detail)
    }
}

/// An event that cannot happen in the machine's state: a bug in the driver, reported with both.
public struct TransitionError: Error, Equatable, Sendable, CustomStringConvertible {
    public let event: String
    public let phase: TransferMachine.Phase
    public let detail: String

    public init(event: String, phase: TransferMachine.Phase, detail: String) {
        self.event = event
        self.phase = phase
        self.detail = detail
    }

    public var description: String {
        "\(event) cannot happen in phase \(phase)" + (detail.isEmpty ? "" : " (\(detail))")
    }
}
