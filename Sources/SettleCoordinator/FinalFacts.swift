import SettleCore

/// Everything a client is told about a transfer once it is final, sealed into the record that
/// makes it final (END, COMPENSATED, STUCK, MANUAL) and applied from that same value live and on
/// replay, so a restart can never report a finished transfer differently from before.
public struct FinalFacts: Codable, Sendable, Equatable {
    public var status: TransferStatus
    /// "2pc", "saga", "compensated", "heuristic" or "manual" (coordinator.proto's Transfer.path).
    public var path: String
    public var reason: String
    public var finishedAtMilliseconds: Int64
    public var branchStates: [String]
    /// The operator whose MANUAL decision finished it.
    public var resolvedBy: String?
    /// The admission this ending belongs to: an id forgotten and admitted again must never take
    /// an earlier admission's END for its own. Nil in records from before it was sealed.
    public var admission: Admission? = nil

    public init(
        status: TransferStatus, path: String, reason: String, finishedAtMilliseconds: Int64, branchStates: [String],
        resolvedBy: String? = nil, admission: Admission? = nil
    ) {
        self.status = status
        self.path = path
        self.reason = reason
        self.finishedAtMilliseconds = finishedAtMilliseconds
        self.branchStates = branchStates
        self.resolvedBy = resolvedBy
        self.admission = admission
    }
}

extension FinalFacts {
    /// The reason a MANUAL decision reports, live and on replay.
    static func manualReason(who: String, reason: String) -> String { "resolved by \(who): \(reason)" }

    /// What an operator's decision makes of a stuck transfer's facts.
    func resolved(as outcome: TransferStatus, by who: String, reason: String, atMilliseconds: Int64) -> FinalFacts {
        FinalFacts(
            status: outcome, path: "manual", reason: Self.manualReason(who: who, reason: reason),
            finishedAtMilliseconds: atMilliseconds, branchStates: branchStates, resolvedBy: who, admission: admission
        )
    }
}
