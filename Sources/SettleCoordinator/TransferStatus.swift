import SettleCore

/// What the coordinator reports about a transfer (the API's TransferState).
public enum TransferStatus: String, Codable, Sendable, CaseIterable {
    case preparing, committing, committed, aborting, aborted, stuck, saga, compensating, compensated

    public var isFinal: Bool { self == .committed || self == .aborted || self == .stuck || self == .compensated }

    init(_ phase: TransferMachine.Phase) {
        switch phase {
        case .created, .preparing, .sealingDecision(.commit), .sealingDecision(.saga): self = .preparing
        case .saga(.forward): self = .saga
        case .saga(.sealingCompensate), .saga(.compensating): self = .compensating
        case .saga(.sealingEnd(.committed)), .saga(.finished(.committed)): self = .committed
        case .saga(.sealingEnd), .saga(.finished): self = .compensated
        case .saga(.sealingStuck), .saga(.stuck): self = .stuck
        case .sealingDecision: self = .aborting
        case .committing: self = .committing
        case .aborting: self = .aborting
        case .sealingEnd(.committed), .finished(.committed): self = .committed
        case .sealingEnd(.aborted), .finished(.aborted): self = .aborted
        case .sealingEnd(.compensated), .finished(.compensated): self = .compensated
        case .heuristicHazard: self = .stuck
        }
    }
}

/// One transfer as the API reports it: a snapshot of the registry's sealed and live fields.
struct TransferEntry: Sendable {
    let spec: TransferSpec
    /// Unique to this admission of `spec.id`: part of every gid of its branches.
    let admission: Admission
    let submittedAtMilliseconds: Int64
    let finishedAtMilliseconds: Int64?
    let status: TransferStatus
    let reason: String
    let branchStates: [String]
    /// The operator whose MANUAL decision finished it.
    let resolvedBy: String?
    /// A Resolve has claimed this stuck transfer and is sealing its record.
    let pendingResolution: String?
    /// The authenticated client that submitted it; nil for transfers logged before clients were
    /// named (only clients that read all transfers see those).
    let submittedBy: String?
    /// Four-eyes: a sealed proposal waiting for a second operator.
    let proposal: ResolutionProposal?
    /// The LSN of its latest sealed decision, for the sweep's signed commands.
    let decisionLSN: UInt64?
    /// How it ended, once final: "2pc", "saga", "compensated", "heuristic" or "manual"
    /// (coordinator.proto's Transfer.path); the final status alone cannot tell a saga's commit
    /// from 2PC's.
    let finalPath: String?
    /// What only this process knows: branches waiting to retry, and each branch's latest error.
    let retries: [Int: TransferRegistry.BranchRetry]
    let lastErrors: [Int: String]
    /// The LSN of its ACCEPTED record, where its records start in the log (nil in logs that did
    /// not keep it).
    let acceptedLSN: UInt64?
    /// No record of it lies after this LSN (nil: unknown; see `Live.lastRecordLSN`).
    let lastRecordLSN: UInt64?

    /// Once final, everything comes from the sealed facts, so a restart reports it the same.
    init(_ transfer: TransferRegistry.Transfer) {
        let sealed = transfer.sealed
        spec = sealed.spec
        admission = sealed.admission
        submittedAtMilliseconds = sealed.submittedAtMilliseconds
        submittedBy = sealed.submittedBy
        proposal = sealed.proposal
        decisionLSN = sealed.decisionLSN
        pendingResolution = transfer.live.pendingResolution
        retries = transfer.live.retries
        lastErrors = transfer.live.lastErrors
        acceptedLSN = sealed.acceptedLSN
        lastRecordLSN = transfer.live.lastRecordLSN
        if let facts = transfer.reportedFinalFacts {
            status = facts.status
            reason = facts.reason
            branchStates = facts.branchStates
            finishedAtMilliseconds = facts.finishedAtMilliseconds
            finalPath = facts.path
            resolvedBy = facts.resolvedBy
        } else {
            status = transfer.live.status
            reason = transfer.live.reason ?? sealed.reason ?? ""
            branchStates = transfer.live.branchStates
            finishedAtMilliseconds = nil
            finalPath = nil
            resolvedBy = nil
        }
    }
}

extension TransferRegistry.Transfer {
    /// Final, and allowed to say so: its final record is sealed, or it is a two-phase commit's END,
    /// or it is stuck and an operator's resolution awaits its seal.
    var isReportedFinal: Bool { reportedFinalFacts != nil }

    /// What is reported about its ending once it may be reported: the sealed facts, or those of
    /// an older record rebuilt from its decision (while a resolution awaits its seal, the stuck
    /// ending it resolves); nil while it is not reported final.
    var reportedFinalFacts: FinalFacts? {
        if live.endingAwaitsSeal { return live.reportedUntilSealed }
        guard let final = sealed.final else { return nil }
        return sealed.facts ?? factsOfAnOlderRecord(final: final)
    }

    /// The facts of a transfer finished by a record sealed before final records carried them:
    /// rebuilt from the decision, as well as that record allows.
    func factsOfAnOlderRecord(final: TransferStatus) -> FinalFacts {
        let path =
            switch (final, sealed.decision) {
            case (.stuck, _): "heuristic"
            case (.compensated, _): "compensated"
            case (_, .saga?): "saga"
            default: "2pc"
            }
        return FinalFacts(
            status: final, path: path, reason: sealed.reason ?? "", finishedAtMilliseconds: sealed.submittedAtMilliseconds,
            branchStates: sealed.spec.branches.map { _ in final.rawValue }, admission: sealed.admission
        )
    }
}
