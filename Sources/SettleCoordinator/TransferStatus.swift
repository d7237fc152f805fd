import SettleCore

/// What the coordinator reports about a transfer (the API's TransferState).
enum TransferStatus: String, Codable, Sendable, CaseIterable {
    case preparing, committing, committed, aborting, aborted, stuck

    var isFinal: Bool { self == .committed || self == .aborted || self == .stuck }

    init(_ phase: TransferMachine.Phase) {
        switch phase {
        case .created, .preparing, .sealingDecision(.commit): self = .preparing
        case .sealingDecision: self = .aborting
        case .committing: self = .committing
        case .aborting: self = .aborting
        case .sealingEnd(.committed), .finished(.committed): self = .committed
        case .sealingEnd(.aborted), .finished(.aborted): self = .aborted
        case .heuristicHazard: self = .stuck
        }
    }
}

/// One transfer as the coordinator remembers it: what was asked, where it stands.
struct TransferEntry: Codable, Sendable {
    var spec: TransferSpec
    var submittedAtMilliseconds: Int64
    var finishedAtMilliseconds: Int64?
    var status: TransferStatus
    /// Set once the decision is sealed: "commit" or "abort".
    var decision: String?
    var reason: String
    var branchStates: [String]

    init(spec: TransferSpec, submittedAtMilliseconds: Int64) {
        self.spec = spec
        self.submittedAtMilliseconds = submittedAtMilliseconds
        self.status = .preparing
        self.reason = ""
        self.branchStates = spec.branches.map { _ in "pending" }
    }
}
