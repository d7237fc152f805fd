import SettleCore

/// How each branch is reported (Transfer.branches[].state), from either machine's progress.
extension TransferDriver {
    static func describe(_ transfer: TransferProtocol) -> [String] {
        switch transfer.stage {
        case .twoPhase(let machine): machine.branches.map(describe)
        case .saga(let saga): saga.branches.map(describe)
        }
    }

    static func describe(_ progress: SagaMachine.BranchProgress) -> String {
        switch progress {
        case .awaitingPrepare: "saga: re-driving"
        case .prepared: "prepared, to be cancelled"
        case .preparedAwaitingTurn: "saga: prepared, committing after the branches before it"
        case .refused(let reason): "refused: \(reason)"
        case .awaitingCommit: "saga: committing"
        case .committed: "committed"
        case .awaitingRollback: "cancelling"
        case .rolledBack: "cancelled"
        case .awaitingCompensation: "committed, to be compensated"
        case .compensating: "compensating"
        case .compensated: "compensated"
        }
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
