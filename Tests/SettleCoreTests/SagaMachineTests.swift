import SettleCore
import Testing

/// Three-branch sagas driven through every phase; each event is then tried in each phase.
@Suite("saga machine: forward, then compensation in reverse order")
struct SagaMachineTests {
    // MARK: Transcripts

    @Test func theDeadlineUnderSagaPolicySealsSAGAInsteadOfABORT() throws {
        var transfer = TransferMachine(branchCount: 3, onPrepareTimeout: .saga)
        _ = try transfer.started()
        _ = try transfer.prepareAnswered(branch: 0, answer: .prepared)
        #expect(try transfer.prepareDeadlinePassed() == .log(.saga))
        #expect(try transfer.prepareAnswered(branch: 2, answer: .prepared) == .wait, "answered while SAGA is sealing")
        #expect(try transfer.logged(.saga) == .wait)
        #expect(transfer.phase == .saga(.forward))
        let (saga, first) = SagaMachine.started(after: transfer.branches)
        #expect(first == .startForward(commit: [0], redrive: [1]), "one at a time, in the listed order")
        #expect(saga.branches == [.awaitingCommit, .awaitingPrepare, .preparedAwaitingTurn])
        // A refusal before the deadline still aborts, whatever the policy.
        var refused = TransferMachine(branchCount: 2, onPrepareTimeout: .saga)
        _ = try refused.started()
        #expect(try refused.prepareAnswered(branch: 1, answer: .refused(reason: "no")) == .log(.abort(reason: "branch 1 refused: no")))
    }

    @Test func aLateBranchThatPreparesCommitsEverythingInOrder() throws {
        var saga = Self.forward()
        #expect(try saga.commitAnswered(branch: 0, answer: .committed) == .wait, "branch 1 is not prepared yet")
        #expect(try saga.prepareAnswered(branch: 1, answer: .prepared) == .sendCommit([1]))
        #expect(throws: TransitionError.self, "branch 2 waits its turn") { try saga.commitAnswered(branch: 2, answer: .committed) }
        #expect(try saga.commitAnswered(branch: 1, answer: .committed) == .sendCommit([2]))
        #expect(try saga.commitAnswered(branch: 2, answer: .committed) == .log(.end(.committed)))
        #expect(try saga.logged(.end(.committed)) == .finished(.committed))
    }

    /// The storm's stuck saga, prevented: the branch listed first (a debit) is refused on its
    /// re-drive, and the later branch (a credit) was only prepared, so it is cancelled rather than
    /// compensated — no credit was ever usable before its debit succeeded.
    @Test func aLateRefusalCancelsTheBranchesAfterItAndCompensatesThoseBefore() throws {
        var saga = Self.forward()
        _ = try saga.commitAnswered(branch: 0, answer: .committed)
        let reason = "branch 1 refused during the saga: no funds"
        #expect(try saga.prepareAnswered(branch: 1, answer: .refused(reason: "no funds")) == .log(.compensate(reason: reason)))
        #expect(try saga.logged(.compensate(reason: reason)) == .startCompensation(cancel: [1, 2], compensate: nil))
        #expect(try saga.rollbackAnswered(branch: 1, answer: .rolledBack) == .wait, "branch 2's cancel comes first for 0")
        #expect(try saga.rollbackAnswered(branch: 2, answer: .rolledBack) == .compensate(0))
        #expect(try saga.compensateAnswered(branch: 0, answer: .compensated) == .log(.end(.compensated)))
        #expect(try saga.logged(.end(.compensated)) == .finished(.compensated))
        #expect(saga.branches == [.compensated, .rolledBack, .rolledBack])
    }

    @Test func theSagaDeadlineGivesUpAndACommitInFlightIsCompensatedWhenItLands() throws {
        var saga = Self.forward()
        let reason = "saga deadline passed before branches 0, 1, 2 committed"
        #expect(try saga.sagaDeadlinePassed() == .log(.compensate(reason: reason)))
        #expect(try saga.logged(.compensate(reason: reason)) == .startCompensation(cancel: [1, 2], compensate: nil))
        #expect(try saga.rollbackAnswered(branch: 1, answer: .rolledBack) == .wait)
        #expect(try saga.rollbackAnswered(branch: 2, answer: .rolledBack) == .wait, "branch 0's commit is still in flight")
        #expect(try saga.commitAnswered(branch: 0, answer: .committed) == .compensate(0))
        #expect(try saga.compensateAnswered(branch: 0, answer: .compensated) == .log(.end(.compensated)))
    }

    @Test func aCompensationThatKeepsFailingLeavesTheTransferStuck() throws {
        var (saga, _) = SagaMachine.resumingCompensation(branchCount: 1)
        #expect(try saga.rollbackAnswered(branch: 0, answer: .alreadyCommitted) == .compensate(0))
        let reason = "the compensation of branch 0 keeps failing: 3 attempts; last: refused: spent"
        #expect(try saga.compensationGaveUp(branch: 0, reason: "3 attempts; last: refused: spent") == .log(.stuck(reason: reason)))
        #expect(try saga.logged(.stuck(reason: reason)) == .stuck(reason: reason))
        #expect(saga.phase == .stuck(reason: reason))
        #expect(throws: TransitionError.self) { try saga.compensateAnswered(branch: 0, answer: .compensated) }
    }

    @Test func aCancelThatFindsTheBranchCommittedCompensatesItInstead() throws {
        var (saga, action) = SagaMachine.resumingCompensation(branchCount: 2)
        #expect(action == .startCompensation(cancel: [0, 1], compensate: nil))
        #expect(try saga.rollbackAnswered(branch: 0, answer: .alreadyCommitted) == .wait, "branch 1 is not settled yet")
        #expect(try saga.rollbackAnswered(branch: 1, answer: .alreadyCommitted) == .compensate(1))
        #expect(try saga.compensateAnswered(branch: 1, answer: .compensated) == .compensate(0))
        #expect(try saga.compensateAnswered(branch: 0, answer: .compensated) == .log(.end(.compensated)))
    }

    @Test func resumingForwardReDrivesEveryBranch() throws {
        var (saga, action) = SagaMachine.resumingForward(branchCount: 2)
        #expect(action == .startForward(commit: [], redrive: [0, 1]))
        #expect(try saga.prepareAnswered(branch: 0, answer: .prepared) == .sendCommit([0]))
        #expect(try saga.commitAnswered(branch: 0, answer: .heuristicRollback) == .sendPrepare([0]))
    }

    // MARK: Every phase × every event

    /// Branches 0 and 2 prepared at the deadline, branch 1 late: branch 0's Commit is in flight,
    /// branch 2 waits for branch 1.
    static func forward() -> SagaMachine {
        let (saga, action) = SagaMachine.started(after: [.prepared, .awaitingPrepare, .prepared])
        precondition(action == .startForward(commit: [0], redrive: [1]))
        return saga
    }

    static let compensateReason = "saga deadline passed before branches 0, 1, 2 committed"

    static func machine(in phase: String) throws -> SagaMachine {
        var saga = forward()
        switch phase {
        case "forward":
            break
        case "sealingCompensate":
            _ = try saga.sagaDeadlinePassed()
        case "compensating":
            _ = try saga.sagaDeadlinePassed()
            _ = try saga.logged(.compensate(reason: compensateReason))
        case "sealingEndCompensated":
            _ = try saga.sagaDeadlinePassed()
            _ = try saga.logged(.compensate(reason: compensateReason))
            _ = try saga.rollbackAnswered(branch: 1, answer: .rolledBack)
            _ = try saga.rollbackAnswered(branch: 2, answer: .rolledBack)
            _ = try saga.commitAnswered(branch: 0, answer: .committed)
            _ = try saga.compensateAnswered(branch: 0, answer: .compensated)
        case "sealingEndCommitted":
            _ = try saga.commitAnswered(branch: 0, answer: .committed)
            _ = try saga.prepareAnswered(branch: 1, answer: .prepared)
            _ = try saga.commitAnswered(branch: 1, answer: .committed)
            _ = try saga.commitAnswered(branch: 2, answer: .committed)
        case "finishedCompensated":
            saga = try machine(in: "sealingEndCompensated")
            _ = try saga.logged(.end(.compensated))
        case "stuck":
            _ = try saga.sagaDeadlinePassed()
            _ = try saga.logged(.compensate(reason: compensateReason))
            _ = try saga.rollbackAnswered(branch: 1, answer: .rolledBack)
            _ = try saga.rollbackAnswered(branch: 2, answer: .rolledBack)
            _ = try saga.commitAnswered(branch: 0, answer: .committed)
            let action = try saga.compensationGaveUp(branch: 0, reason: "spent")
            guard case .log(let entry) = action else { preconditionFailure("\(action)") }
            _ = try saga.logged(entry)
        default:
            preconditionFailure("no fixture \(phase)")
        }
        return saga
    }

    static let phases = [
        "forward", "sealingCompensate", "compensating", "sealingEndCompensated", "sealingEndCommitted", "finishedCompensated", "stuck",
    ]

    static let events: [String: @Sendable (inout SagaMachine) throws -> SagaMachine.Action] = [
        "prepared(1)": { try $0.prepareAnswered(branch: 1, answer: .prepared) },
        "refused(1)": { try $0.prepareAnswered(branch: 1, answer: .refused(reason: "no")) },
        "committed(0)": { try $0.commitAnswered(branch: 0, answer: .committed) },
        "heuristicRollback(0)": { try $0.commitAnswered(branch: 0, answer: .heuristicRollback) },
        "sagaDeadline": { try $0.sagaDeadlinePassed() },
        "logged(compensate)": { try $0.logged(.compensate(reason: compensateReason)) },
        "logged(end compensated)": { try $0.logged(.end(.compensated)) },
        "logged(end committed)": { try $0.logged(.end(.committed)) },
        "rolledBack(1)": { try $0.rollbackAnswered(branch: 1, answer: .rolledBack) },
        "alreadyCommitted(1)": { try $0.rollbackAnswered(branch: 1, answer: .alreadyCommitted) },
        "compensated(0)": { try $0.compensateAnswered(branch: 0, answer: .compensated) },
        "gaveUp(0)": { try $0.compensationGaveUp(branch: 0, reason: "spent") },
    ]

    static let accepted: [String: [String: SagaMachine.Action]] = [
        "forward": [
            "prepared(1)": .wait,
            "refused(1)": .log(.compensate(reason: "branch 1 refused during the saga: no")),
            "committed(0)": .wait,
            "heuristicRollback(0)": .sendPrepare([0]),
            "sagaDeadline": .log(.compensate(reason: "saga deadline passed before branches 0, 1, 2 committed")),
        ],
        "sealingCompensate": [
            "prepared(1)": .wait, "refused(1)": .wait, "committed(0)": .wait, "heuristicRollback(0)": .wait,
            "sagaDeadline": .wait, "logged(compensate)": .startCompensation(cancel: [1, 2], compensate: nil),
        ],
        "compensating": [
            "prepared(1)": .wait, "refused(1)": .wait, "committed(0)": .wait, "heuristicRollback(0)": .sendRollback([0]),
            "sagaDeadline": .wait, "rolledBack(1)": .wait, "alreadyCommitted(1)": .wait,
        ],
        "sealingEndCompensated": [
            "prepared(1)": .wait, "refused(1)": .wait, "sagaDeadline": .wait, "logged(end compensated)": .finished(.compensated),
        ],
        "sealingEndCommitted": ["sagaDeadline": .wait, "logged(end committed)": .finished(.committed)],
        "finishedCompensated": ["prepared(1)": .wait, "refused(1)": .wait, "sagaDeadline": .wait],
        "stuck": ["sagaDeadline": .wait],
    ]

    @Test(arguments: phases)
    func everyEventInPhase(_ phase: String) throws {
        try checkEveryEvent(in: phase, fixture: Self.machine(in:), events: Self.events, accepted: Self.accepted[phase] ?? [:])
    }
}
