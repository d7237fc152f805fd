import SettleCore

/// What must hold of one transfer's branches once a run has settled, whatever the scheduler did;
/// both simulators check it.
public struct BranchInvariants {
    /// What the sealed log holds for the transfer.
    public struct Decided: Sendable {
        public var forward: Bool
        public var compensation: Bool
        public var stuck: Bool

        public init(forward: Bool, compensation: Bool, stuck: Bool) {
            self.forward = forward
            self.compensation = compensation
            self.stuck = stuck
        }
    }

    /// `ending`: how the transfer ended (nil: not at all, or stuck).
    public static func violations(
        _ branches: [(key: BranchKey, branch: SimulatedParticipants.Branch)], decided: Decided, ending: TransferOutcome?
    ) -> [String] {
        var violations: [String] = []
        for (key, branch) in branches {
            if branch.commits > 1 { violations.append("\(key) committed \(branch.commits) times") }
            if branch.compensations > 1 { violations.append("\(key) compensated \(branch.compensations) times") }
            if branch.commits > 0, !decided.forward { violations.append("\(key) committed although the log decided no COMMIT or SAGA") }
            if branch.compensations > 0, !decided.compensation { violations.append("\(key) compensated without COMPENSATE in the log") }
            if branch.state == .prepared, !decided.stuck { violations.append("\(key) is left prepared") }
        }
        switch ending {
        case .committed:
            for (key, branch) in branches where branch.state != .committed {
                violations.append("\(key) is \(branch.state) in a transfer that ended committed")
            }
        case .aborted:
            for (key, branch) in branches where branch.commits > 0 {
                violations.append("\(key) committed in a transfer that ended aborted")
            }
        case .compensated:
            for (key, branch) in branches where branch.commits > 0 && branch.compensations != 1 {
                violations.append("\(key) committed and compensated \(branch.compensations) times in a transfer that ended compensated")
            }
        case nil:
            break
        }
        return violations
    }
}
