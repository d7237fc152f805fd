import SettleCore
import Testing

/// Two-branch transfers driven through every phase; each event is then tried in each phase.
@Suite("transfer machine: two-phase commit with presumed abort")
struct TransferMachineTests {
    static let refusal = "branch 0 refused: no funds"
    static let hazard = "branch 0 committed although the transfer was aborted"

    // MARK: Transcripts

    @Test func happyPathCommits() throws {
        var transfer = TransferMachine(branchCount: 2)
        #expect(try transfer.started() == .sendPrepare([0, 1]))
        #expect(try transfer.prepareAnswered(branch: 1, answer: .prepared) == .wait)
        #expect(try transfer.prepareAnswered(branch: 0, answer: .prepared) == .log(.commit))
        #expect(try transfer.logged(.commit) == .sendCommit([0, 1]))
        #expect(try transfer.commitAnswered(branch: 0, answer: .committed) == .wait)
        #expect(try transfer.commitAnswered(branch: 1, answer: .committed) == .log(.end(.committed)))
        #expect(try transfer.logged(.end(.committed)) == .finished(.committed))
        #expect(transfer.isFinished)
    }

    @Test func aRefusalAbortsAndRollsBackEveryBranch() throws {
        var transfer = TransferMachine(branchCount: 2)
        _ = try transfer.started()
        #expect(try transfer.prepareAnswered(branch: 1, answer: .prepared) == .wait)
        #expect(try transfer.prepareAnswered(branch: 0, answer: .refused(reason: "no funds")) == .log(.abort(reason: Self.refusal)))
        #expect(try transfer.logged(.abort(reason: Self.refusal)) == .sendRollback([0, 1]))
        #expect(try transfer.rollbackAnswered(branch: 1, answer: .rolledBack) == .wait)
        #expect(try transfer.rollbackAnswered(branch: 0, answer: .rolledBack) == .log(.end(.aborted)))
        #expect(try transfer.logged(.end(.aborted)) == .finished(.aborted))
    }

    @Test func theDeadlineAbortsNamingTheLateBranches() throws {
        var transfer = TransferMachine(branchCount: 3)
        _ = try transfer.started()
        _ = try transfer.prepareAnswered(branch: 1, answer: .prepared)
        let reason = "prepare deadline passed before branches 0, 2 prepared"
        #expect(try transfer.prepareDeadlinePassed() == .log(.abort(reason: reason)))
        // Late answers after the abort change nothing: the rollback covers them.
        #expect(try transfer.prepareAnswered(branch: 2, answer: .prepared) == .wait)
        #expect(try transfer.logged(.abort(reason: reason)) == .sendRollback([0, 1, 2]))
        #expect(try transfer.prepareAnswered(branch: 0, answer: .prepared) == .wait)
    }

    @Test func aHeuristicRollbackAfterCommitIsReDriven() throws {
        var transfer = try Self.machine(in: "committing")
        let noted = TransferLogEntry.heuristic(branch: 0, reason: "branch 0 was rolled back after COMMIT; re-driving it")
        #expect(try transfer.commitAnswered(branch: 0, answer: .heuristicRollback) == .log(noted))
        #expect(try transfer.commitAnswered(branch: 1, answer: .committed) == .wait)
        #expect(try transfer.logged(noted) == .sendPrepare([0]))
        #expect(try transfer.prepareAnswered(branch: 0, answer: .prepared) == .sendCommit([0]))
        #expect(try transfer.commitAnswered(branch: 0, answer: .committed) == .log(.end(.committed)))
    }

    @Test func aRefusedReDriveIsAHazardForCompensation() throws {
        var transfer = try Self.machine(in: "committing")
        _ = try transfer.commitAnswered(branch: 0, answer: .heuristicRollback)
        _ = try transfer.logged(.heuristic(branch: 0, reason: "branch 0 was rolled back after COMMIT; re-driving it"))
        let reason = "re-drive of branch 0 after COMMIT was refused: no funds"
        #expect(try transfer.prepareAnswered(branch: 0, answer: .refused(reason: "no funds")) == .log(.heuristic(branch: 0, reason: reason)))
        #expect(transfer.phase == .heuristicHazard(branch: 0, reason: reason))
    }

    /// After a hazard the decision still stands for the other branches: their answers are taken
    /// until nothing is outstanding, and a second HEURISTIC record is refused.
    @Test func aHazardStillFinishesPhaseTwoForTheOthers() throws {
        var transfer = TransferMachine(branchCount: 3)
        _ = try transfer.started()
        for branch in 0..<3 { _ = try transfer.prepareAnswered(branch: branch, answer: .prepared) }
        _ = try transfer.logged(.commit)
        _ = try transfer.commitAnswered(branch: 0, answer: .heuristicRollback)
        _ = try transfer.logged(.heuristic(branch: 0, reason: "branch 0 was rolled back after COMMIT; re-driving it"))
        let reason = "re-drive of branch 0 after COMMIT was refused: gone"
        #expect(try transfer.prepareAnswered(branch: 0, answer: .refused(reason: "gone")) == .log(.heuristic(branch: 0, reason: reason)))
        #expect(transfer.hasPhaseTwoOutstanding)
        #expect(try transfer.commitAnswered(branch: 1, answer: .committed) == .wait)
        #expect(try transfer.logged(.heuristic(branch: 0, reason: reason)) == .wait)
        #expect(transfer.hazardRecorded)
        #expect(throws: TransitionError.self) { try transfer.logged(.heuristic(branch: 0, reason: reason)) }
        #expect(try transfer.commitAnswered(branch: 2, answer: .committed) == .wait)
        #expect(!transfer.hasPhaseTwoOutstanding)
        #expect(transfer.branches == [.refused(reason: "gone"), .committed, .committed])
        #expect(throws: TransitionError.self) { try transfer.commitAnswered(branch: 1, answer: .committed) }
    }

    /// Found by review: two branches rolled back by hand after COMMIT. The second one's HEURISTIC
    /// record, sealed after the first one's re-drive was refused, and its re-drive answer were
    /// both rejected, and the driver stopped settled, again after every restart.
    @Test func twoHeuristicBranchesEndInOneHazardWithNothingOutstanding() throws {
        var transfer = TransferMachine(branchCount: 3)
        _ = try transfer.started()
        for branch in 0..<3 { _ = try transfer.prepareAnswered(branch: branch, answer: .prepared) }
        _ = try transfer.logged(.commit)
        let rolledBack = { (branch: Int) in "branch \(branch) was rolled back after COMMIT; re-driving it" }
        _ = try transfer.commitAnswered(branch: 0, answer: .heuristicRollback)
        _ = try transfer.commitAnswered(branch: 1, answer: .heuristicRollback)
        _ = try transfer.commitAnswered(branch: 2, answer: .heuristicRollback)
        #expect(try transfer.logged(.heuristic(branch: 0, reason: rolledBack(0))) == .sendPrepare([0]))
        #expect(try transfer.logged(.heuristic(branch: 1, reason: rolledBack(1))) == .sendPrepare([1]))
        let hazard = "re-drive of branch 0 after COMMIT was refused: cancelled"
        #expect(try transfer.prepareAnswered(branch: 0, answer: .refused(reason: "cancelled")) == .log(.heuristic(branch: 0, reason: hazard)))
        #expect(try transfer.prepareAnswered(branch: 1, answer: .prepared) == .wait, "branch 1's re-drive answers after the hazard")
        #expect(try transfer.logged(.heuristic(branch: 2, reason: rolledBack(2))) == .wait, "branch 2 is not re-driven")
        #expect(try transfer.logged(.heuristic(branch: 0, reason: hazard)) == .wait)
        #expect(transfer.hazardRecorded && !transfer.hasPhaseTwoOutstanding)
        #expect(transfer.branches == [.refused(reason: "cancelled"), .prepared, .rolledBack])
    }

    /// The deadlock detector's victim aborts while undecided; once decided the request is moot.
    @Test func anAbortRequestAbortsOnlyAnUndecidedTransfer() throws {
        var waiting = TransferMachine(branchCount: 2)
        _ = try waiting.started()
        _ = try waiting.prepareAnswered(branch: 0, answer: .prepared)
        let reason = "deadlock with transfer t-7"
        #expect(waiting.abortRequested(reason: reason) == .log(.abort(reason: reason)))
        #expect(waiting.decision == .abort(reason: reason))
        #expect(waiting.abortRequested(reason: "again") == .wait, "a second request changes nothing")
        #expect(try waiting.logged(.abort(reason: reason)) == .sendRollback([0, 1]))

        var decided = TransferMachine(branchCount: 1)
        _ = try decided.started()
        _ = try decided.prepareAnswered(branch: 0, answer: .prepared)
        #expect(decided.abortRequested(reason: reason) == .wait, "COMMIT is being sealed: too late to abort")
        #expect(decided.decision == .commit)
    }

    @Test func recoveryResumesPhaseTwoFromTheSealedDecision() throws {
        let (committing, commitAction) = try TransferMachine.resuming(branchCount: 3, decision: .commit)
        #expect(commitAction == .sendCommit([0, 1, 2]))
        #expect(committing.phase == .committing)
        let (aborting, abortAction) = try TransferMachine.resuming(branchCount: 2, decision: .abort(reason: "crash"))
        #expect(abortAction == .sendRollback([0, 1]))
        #expect(aborting.phase == .aborting)
        #expect(throws: TransitionError.self) { try TransferMachine.resuming(branchCount: 2, decision: .end(.committed)) }
    }

    @Test func branchesOutOfRangeAreRejected() throws {
        var transfer = try Self.machine(in: "preparing")
        #expect(throws: TransitionError.self) { try transfer.prepareAnswered(branch: 2, answer: .prepared) }
        #expect(throws: TransitionError.self) { try transfer.prepareAnswered(branch: -1, answer: .prepared) }
    }

    // MARK: Every phase × every event

    /// Fixtures reached only through valid events, one per phase.
    static func machine(in phase: String) throws -> TransferMachine {
        var machine = TransferMachine(branchCount: 2)
        func run(_ steps: [(inout TransferMachine) throws -> TransferMachine.Action]) throws {
            for step in steps { _ = try step(&machine) }
        }
        let preparing: [(inout TransferMachine) throws -> TransferMachine.Action] = [{ try $0.started() }]
        let sealingCommit =
            preparing + [
                { try $0.prepareAnswered(branch: 0, answer: .prepared) }, { try $0.prepareAnswered(branch: 1, answer: .prepared) },
            ]
        let sealingAbort = preparing + [{ try $0.prepareAnswered(branch: 0, answer: .refused(reason: "no funds")) }]
        let committing = sealingCommit + [{ try $0.logged(.commit) }]
        let aborting = sealingAbort + [{ try $0.logged(.abort(reason: refusal)) }]
        let endingCommitted =
            committing + [
                { try $0.commitAnswered(branch: 0, answer: .committed) }, { try $0.commitAnswered(branch: 1, answer: .committed) },
            ]
        let endingAborted =
            aborting + [
                { try $0.rollbackAnswered(branch: 0, answer: .rolledBack) }, { try $0.rollbackAnswered(branch: 1, answer: .rolledBack) },
            ]
        switch phase {
        case "created": break
        case "preparing": try run(preparing)
        case "sealingCommit": try run(sealingCommit)
        case "sealingAbort": try run(sealingAbort)
        case "committing": try run(committing)
        case "aborting": try run(aborting)
        case "endingCommitted": try run(endingCommitted)
        case "endingAborted": try run(endingAborted)
        case "finishedCommitted": try run(endingCommitted + [{ try $0.logged(.end(.committed)) }])
        case "finishedAborted": try run(endingAborted + [{ try $0.logged(.end(.aborted)) }])
        case "hazard": try run(aborting + [{ try $0.rollbackAnswered(branch: 0, answer: .alreadyCommitted) }])
        default: preconditionFailure("no fixture \(phase)")
        }
        return machine
    }

    static let phases = [
        "created", "preparing", "sealingCommit", "sealingAbort", "committing", "aborting", "endingCommitted",
        "endingAborted", "finishedCommitted", "finishedAborted", "hazard",
    ]

    static let events: [String: @Sendable (inout TransferMachine) throws -> TransferMachine.Action] = [
        "started": { try $0.started() },
        "prepared(1)": { try $0.prepareAnswered(branch: 1, answer: .prepared) },
        "refused(1)": { try $0.prepareAnswered(branch: 1, answer: .refused(reason: "no")) },
        "deadline": { try $0.prepareDeadlinePassed() },
        "logged(commit)": { try $0.logged(.commit) },
        "logged(abort)": { try $0.logged(.abort(reason: refusal)) },
        "logged(end committed)": { try $0.logged(.end(.committed)) },
        "logged(end aborted)": { try $0.logged(.end(.aborted)) },
        "logged(heuristic)": { try $0.logged(.heuristic(branch: 0, reason: hazard)) },
        "committed(0)": { try $0.commitAnswered(branch: 0, answer: .committed) },
        "heuristicRollback(0)": { try $0.commitAnswered(branch: 0, answer: .heuristicRollback) },
        "rolledBack(0)": { try $0.rollbackAnswered(branch: 0, answer: .rolledBack) },
        "alreadyCommitted(0)": { try $0.rollbackAnswered(branch: 0, answer: .alreadyCommitted) },
    ]

    /// The accepted pairs and what each does; every pair not listed must be rejected.
    static let accepted: [String: [String: TransferMachine.Action]] = [
        "created": ["started": .sendPrepare([0, 1])],
        "preparing": [
            "prepared(1)": .wait,
            "refused(1)": .log(.abort(reason: "branch 1 refused: no")),
            "deadline": .log(.abort(reason: "prepare deadline passed before branches 0, 1 prepared")),
        ],
        "sealingCommit": ["deadline": .wait, "logged(commit)": .sendCommit([0, 1])],
        "sealingAbort": [
            "prepared(1)": .wait, "refused(1)": .wait, "deadline": .wait, "logged(abort)": .sendRollback([0, 1]),
        ],
        "committing": [
            "deadline": .wait, "committed(0)": .wait,
            "heuristicRollback(0)": .log(.heuristic(branch: 0, reason: "branch 0 was rolled back after COMMIT; re-driving it")),
        ],
        "aborting": [
            "prepared(1)": .wait, "refused(1)": .wait, "deadline": .wait, "rolledBack(0)": .wait,
            "alreadyCommitted(0)": .log(.heuristic(branch: 0, reason: hazard)),
        ],
        "endingCommitted": ["deadline": .wait, "logged(end committed)": .finished(.committed)],
        "endingAborted": [
            "prepared(1)": .wait, "refused(1)": .wait, "deadline": .wait, "logged(end aborted)": .finished(.aborted),
        ],
        "finishedCommitted": ["deadline": .wait],
        "finishedAborted": ["prepared(1)": .wait, "refused(1)": .wait, "deadline": .wait],
        "hazard": ["prepared(1)": .wait, "refused(1)": .wait, "deadline": .wait, "logged(heuristic)": .wait],
    ]

    @Test(arguments: phases)
    func everyEventInPhase(_ phase: String) throws {
        try checkEveryEvent(in: phase, fixture: Self.machine(in:), events: Self.events, accepted: Self.accepted[phase] ?? [:])
    }

    @Test func theTableNamesOnlyKnownPhasesAndEvents() {
        #expect(Set(Self.accepted.keys).isSubset(of: Set(Self.phases)))
        for (_, events) in Self.accepted { #expect(Set(events.keys).isSubset(of: Set(Self.events.keys))) }
    }
}
