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

/// One transfer as the coordinator remembers it: what was asked, where it stands.
struct TransferEntry: Codable, Sendable {
    var spec: TransferSpec
    /// Unique to this admission of `spec.id`: part of every gid of its branches.
    var admission: Admission
    var submittedAtMilliseconds: Int64
    var finishedAtMilliseconds: Int64?
    var status: TransferStatus
    var reason: String
    var branchStates: [String]
    /// The operator whose MANUAL decision finished it.
    var resolvedBy: String?
    /// A Resolve has claimed this stuck transfer and is sealing its MANUAL decision.
    var pendingResolution: String?
    /// The authenticated client that submitted it; nil for transfers logged before clients were
    /// named (only clients that read all transfers see those).
    var submittedBy: String?
    /// Four-eyes: a sealed proposal waiting for a second operator.
    var proposal: ResolutionProposal?
    /// The LSN of its latest sealed decision, for the sweep's signed commands.
    var decisionLSN: UInt64?
    /// Bytes of its ACCEPTED record, counted against the unfinished-bytes budget until final.
    var acceptedRecordBytes = 0
    /// How it ended, once final: "2pc", "saga", "compensated" or "heuristic" (coordinator.proto's
    /// Transfer.path). Kept because the final status alone cannot tell a saga's commit from 2PC's.
    var finalPath: String?

    init(spec: TransferSpec, admission: Admission, submittedAtMilliseconds: Int64) {
        self.spec = spec
        self.admission = admission
        self.submittedAtMilliseconds = submittedAtMilliseconds
        self.status = .preparing
        self.reason = ""
        self.branchStates = spec.branches.map { _ in "pending" }
    }
}

extension TransferEntry {
    /// Applies what the final record sealed; the same value live and on replay.
    mutating func apply(_ facts: FinalFacts) {
        status = facts.status
        finalPath = facts.path
        reason = facts.reason
        finishedAtMilliseconds = facts.finishedAtMilliseconds
        branchStates = facts.branchStates
        resolvedBy = facts.resolvedBy
    }
}
