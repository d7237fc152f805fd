import Foundation
import SettleCore
import SettleProtocol

extension TransferStatus {
    var message: Settle_V1_TransferState {
        switch self {
        case .preparing: .preparing
        case .committing: .committing
        case .committed: .committed
        case .aborting: .aborting
        case .aborted: .aborted
        case .stuck: .stuck
        case .saga: .saga
        case .compensating: .compensating
        case .compensated: .compensated
        }
    }

    init?(_ message: Settle_V1_TransferState) {
        switch message {
        case .preparing: self = .preparing
        case .committing: self = .committing
        case .committed: self = .committed
        case .aborting: self = .aborting
        case .aborted: self = .aborted
        case .stuck: self = .stuck
        case .saga: self = .saga
        case .compensating: self = .compensating
        case .compensated: self = .compensated
        default: return nil
        }
    }
}

extension TransferEntry {
    func message(coordinatorID: String) -> Settle_V1_Transfer {
        var transfer = Settle_V1_Transfer()
        transfer.transferID = spec.id
        transfer.state = status.message
        transfer.submittedAtUnixMs = submittedAtMilliseconds
        transfer.finishedAtUnixMs = finishedAtMilliseconds ?? 0
        transfer.reason = reason.truncated(toUTF8Bytes: 1024)
        switch status {
        case _ where resolvedBy != nil: transfer.path = "manual"
        case _ where finalPath != nil: transfer.path = finalPath ?? ""
        case .stuck: transfer.path = "heuristic"
        case .saga, .compensating: transfer.path = "saga"
        case .compensated: transfer.path = "compensated"
        default: transfer.path = "2pc"
        }
        transfer.branches = spec.branches.enumerated().map { index, branch in
            var status = Settle_V1_BranchStatus()
            status.participant = branch.participant
            status.action = branch.action
            status.gid = spec.gid(ofBranch: index, coordinatorID: coordinatorID, admission: admission)
            status.state = index < branchStates.count ? branchStates[index].truncated(toUTF8Bytes: 1024) : "pending"
            return status
        }
        transfer.submittedBy = submittedBy ?? ""
        transfer.proposedResolution = proposal?.summary ?? ""
        if let proposal {
            transfer.proposalOutcome = proposal.outcome.message
            transfer.proposalOperator = proposal.operator
            transfer.proposalReason = proposal.reason
        }
        transfer.decisionLsn = decisionLSN ?? 0
        return transfer
    }
}
