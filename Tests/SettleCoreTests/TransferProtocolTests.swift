import SettleCore
import Testing

/// The composite machine: the hand-offs the driver used to make, timers as actions, duplicate
/// answers as events, and recovery from each decision.
@Suite("transfer protocol: the composite machine")
struct TransferProtocolTests {
    @Test func startArmsThePrepareDeadlineOnceAndSendsThePrepares() throws {
        var transfer = TransferProtocol(branchCount: 2, prepareSequence: [1, 0])
        #expect(try transfer.start() == [.armPrepareDeadline, .sendPrepare([1], untilPrepareDeadline: true)])
        #expect(try transfer.handle(.prepareAnswered(branch: 1, .prepared)) == [.sendPrepare([0], untilPrepareDeadline: true)])
        #expect(try transfer.handle(.prepareAnswered(branch: 0, .prepared)) == [.log(.commit)])
        #expect(try transfer.handle(.logged(.commit)) == [.sendCommit([0, 1])])
        #expect(try transfer.handle(.commitAnswered(branch: 0, .committed)) == [])
        #expect(try transfer.handle(.commitAnswered(branch: 1, .committed)) == [.log(.end(.committed))])
        #expect(try transfer.handle(.logged(.end(.committed))) == [.finished(.committed)])
        #expect(transfer.finalPath(.committed) == .twoPhase)
    }

    @Test func aSealedSagaHandsOverToTheSagaMachineAndArmsItsDeadline() throws {
        var transfer = TransferProtocol(branchCount: 2, onPrepareTimeout: .saga)
        _ = try transfer.start()
        _ = try transfer.handle(.prepareAnswered(branch: 0, .prepared))
        #expect(try transfer.handle(.prepareDeadlinePassed) == [.log(.saga)])
        #expect(
            try transfer.handle(.logged(.saga))
                == [.sendCommit([0]), .sendPrepare([1], untilPrepareDeadline: false), .armSagaDeadline]
        )
        #expect(transfer.path == .saga)
        // The late first prepare and its re-drive both answer: the second is a duplicate. Branch
        // 1 commits only once branch 0 has (a saga commits in the listed order).
        #expect(try transfer.handle(.prepareAnswered(branch: 1, .prepared)) == [])
        #expect(try transfer.handle(.prepareAnswered(branch: 1, .prepared)) == [])
        #expect(try transfer.handle(.commitAnswered(branch: 0, .committed)) == [.sendCommit([1])])
        #expect(try transfer.handle(.commitAnswered(branch: 1, .committed)) == [.log(.end(.committed))])
        #expect(transfer.finalPath(.committed) == .saga)
    }

    @Test func aHeuristicHazardHandsOverToCompensationOnceEveryBranchAnswered() throws {
        var transfer = TransferProtocol(branchCount: 2)
        _ = try transfer.start()
        _ = try transfer.handle(.prepareAnswered(branch: 0, .refused(reason: "no")))
        _ = try transfer.handle(.logged(.abort(reason: "branch 0 refused: no")))
        let hazard = "branch 1 committed although the transfer was aborted"
        #expect(try transfer.handle(.rollbackAnswered(branch: 1, .alreadyCommitted)) == [.log(.heuristic(branch: 1, reason: hazard))])
        #expect(try transfer.handle(.logged(.heuristic(branch: 1, reason: hazard))) == [])
        #expect(transfer.path == .twoPhase, "branch 0's rollback is still outstanding")
        #expect(try transfer.handle(.rollbackAnswered(branch: 0, .rolledBack)) == [.log(.compensate(reason: hazard))])
        #expect(transfer.path == .heuristic)
        #expect(try transfer.handle(.logged(.compensate(reason: hazard))) == [.sendRollback([0]), .compensate(1)])
        #expect(transfer.finalPath(.compensated) == .heuristic)
    }

    /// A deadlock victim still going forward as a saga gives up as at its deadline: its re-driven
    /// Prepare waits on rows others' prepared branches hold, and only compensating frees them
    /// before the saga deadline. Once compensating, a second request changes nothing.
    @Test func aSagaGoingForwardThatIsADeadlockVictimCompensates() throws {
        var transfer = TransferProtocol(branchCount: 2, onPrepareTimeout: .saga)
        _ = try transfer.start()
        _ = try transfer.handle(.prepareAnswered(branch: 0, .prepared))
        _ = try transfer.handle(.prepareDeadlinePassed)
        _ = try transfer.handle(.logged(.saga))
        _ = try transfer.handle(.commitAnswered(branch: 0, .committed))
        let reason = "deadlock with transfer t-1 across participants"
        #expect(try transfer.handle(.abortRequested(reason: reason)) == [.log(.compensate(reason: reason))])
        #expect(try transfer.handle(.abortRequested(reason: "again")) == [])
        #expect(try transfer.handle(.logged(.compensate(reason: reason))) == [.sendRollback([1])])
        #expect(try transfer.handle(.rollbackAnswered(branch: 1, .rolledBack)) == [.compensate(0)])
    }

    @Test func deadlinesAndAbortRequestsMeanNothingOnceDecided() throws {
        var transfer = TransferProtocol(branchCount: 1)
        _ = try transfer.start()
        _ = try transfer.handle(.prepareAnswered(branch: 0, .prepared))
        #expect(try transfer.handle(.prepareDeadlinePassed) == [])
        #expect(try transfer.handle(.abortRequested(reason: "deadlock")) == [])
        #expect(throws: TransitionError.self) { try transfer.handle(.sagaDeadlinePassed) }
    }

    @Test(arguments: [
        (TransferLogEntry.commit, [TransferProtocol.Action.sendCommit([0, 1])], TransferPath.twoPhase),
        (.abort(reason: "r"), [.sendRollback([0, 1])], .twoPhase),
        (.saga, [.sendPrepare([0, 1], untilPrepareDeadline: false), .armSagaDeadline], .saga),
        (.compensate(reason: "r"), [.sendRollback([0, 1])], .saga),
    ])
    func recoveryResumesFromEachDecision(_ decision: TransferLogEntry, _ expected: [TransferProtocol.Action], _ path: TransferPath) throws {
        let (transfer, actions) = try TransferProtocol.resuming(after: decision, branchCount: 2)
        #expect(actions == expected)
        #expect(transfer.path == path)
    }

    @Test func recoveryRefusesWhatIsNotADecision() {
        #expect(throws: TransitionError.self) { try TransferProtocol.resuming(after: .end(.committed), branchCount: 2) }
    }
}
