import Foundation
import SettleCore
import Testing

/// Ordered prepares: one branch at a time, in the order of participant names, so that a transfer
/// never holds a row in a later database while it waits in an earlier one.
@Suite("transfer machine: ordered prepares")
struct OrderedPrepareTests {
    static func branch(_ participant: String) -> TransferSpec.Branch {
        TransferSpec.Branch(participant: participant, action: "credit", payload: Data(#"{"amount":1}"#.utf8))
    }

    @Test func theCanonicalOrderIsByParticipantNameThenIndex() {
        let spec = TransferSpec(id: "t", branches: ["bank-b", "bank-a", "bank-b", "bank-a", "bank-aa"].map(Self.branch))
        #expect(spec.canonicalPrepareOrder == [1, 3, 4, 0, 2])
    }

    @Test func eachPrepareIsSentOnlyOnceTheOneBeforeItIsPrepared() throws {
        var transfer = TransferMachine(branchCount: 3, prepareSequence: [2, 0, 1])
        #expect(try transfer.started() == .sendPrepare([2]))
        #expect(transfer.branches == [.notSent, .notSent, .awaitingPrepare])
        #expect(try transfer.prepareAnswered(branch: 2, answer: .prepared) == .sendPrepare([0]))
        #expect(try transfer.prepareAnswered(branch: 0, answer: .prepared) == .sendPrepare([1]))
        #expect(try transfer.prepareAnswered(branch: 1, answer: .prepared) == .log(.commit))
        #expect(try transfer.logged(.commit) == .sendCommit([0, 1, 2]))
    }

    @Test func anAnswerForABranchNotYetSentIsRejected() throws {
        var transfer = TransferMachine(branchCount: 2, prepareSequence: [1, 0])
        _ = try transfer.started()
        #expect(throws: TransitionError.self) { try transfer.prepareAnswered(branch: 0, answer: .prepared) }
    }

    @Test func aRefusalStopsTheSequenceAndRollsBackEveryBranch() throws {
        var transfer = TransferMachine(branchCount: 3, prepareSequence: [0, 1, 2])
        _ = try transfer.started()
        let reason = "branch 0 refused: no funds"
        #expect(try transfer.prepareAnswered(branch: 0, answer: .refused(reason: "no funds")) == .log(.abort(reason: reason)))
        // The branches never sent are rolled back too: their markers refuse a prepare that was
        // somehow still on its way.
        #expect(try transfer.logged(.abort(reason: reason)) == .sendRollback([0, 1, 2]))
    }

    @Test func theDeadlineNamesTheBranchesNotYetSent() throws {
        var transfer = TransferMachine(branchCount: 3, prepareSequence: [0, 1, 2])
        _ = try transfer.started()
        _ = try transfer.prepareAnswered(branch: 0, answer: .prepared)
        #expect(
            try transfer.prepareDeadlinePassed() == .log(.abort(reason: "prepare deadline passed before branches 1, 2 prepared"))
        )
    }

    @Test func aSagaAfterTheDeadlineRedrivesTheBranchesNotYetSent() throws {
        var transfer = TransferMachine(branchCount: 3, onPrepareTimeout: .saga, prepareSequence: [0, 1, 2])
        _ = try transfer.started()
        _ = try transfer.prepareAnswered(branch: 0, answer: .prepared)
        #expect(try transfer.prepareDeadlinePassed() == .log(.saga))
        #expect(try transfer.logged(.saga) == .wait)
        let (_, action) = SagaMachine.started(after: transfer.branches)
        #expect(action == .startForward(commit: [0], redrive: [1, 2]))
    }

    @Test func anAbortRequestWhileOrderedAbortsTheTransfer() throws {
        var transfer = TransferMachine(branchCount: 2, prepareSequence: [0, 1])
        _ = try transfer.started()
        _ = try transfer.prepareAnswered(branch: 0, answer: .prepared)
        #expect(transfer.abortRequested(reason: "deadlock with transfer x") == .log(.abort(reason: "deadlock with transfer x")))
    }

    @Test func aPolicyLoggedBeforePrepareOrderExistedDecodesAsUnchosen() throws {
        let logged = Data(#"{"onPrepareTimeout":"saga","prepareTimeoutMilliseconds":500}"#.utf8)
        let policy = try JSONDecoder().decode(TransferSpec.Policy.self, from: logged)
        #expect(policy == TransferSpec.Policy(onPrepareTimeout: .saga, prepareTimeoutMilliseconds: 500))
        #expect(policy.prepareOrder == nil)
    }
}
