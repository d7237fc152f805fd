/// A four-eyes resolution sealed by one operator and waiting for another's approval.
struct ResolutionProposal: Codable, Sendable, Equatable {
    var outcome: TransferStatus
    var reason: String
    var `operator`: String

    var summary: String { "\(outcome.rawValue) proposed by \(`operator`)" }

    /// Who a MANUAL record says resolved the transfer, as Get and the registry show it.
    static func resolvedBy(_ who: String, approvedBy approver: String?) -> String {
        approver.map { "\(who), approved by \($0)" } ?? who
    }
}
