import SettleCore

/// One branch of one simulated transfer.
public struct BranchKey: Hashable, Sendable, CustomStringConvertible {
    public let transfer: Int
    public let branch: Int
    public var description: String { "t\(transfer)/b\(branch)" }
}

/// How a simulated participant treats one branch: the faults the scheduler gave it.
struct BranchBehaviour {
    var refuses = false
    /// Answers its first prepare this late (past the prepare deadline, often).
    var slowPrepareMilliseconds = 0
    /// A DBA rolls the branch back by hand once it is prepared (ROLLBACK PREPARED).
    var rolledBackByHand = false
    /// After that rollback, preparing the branch again is refused (its account was drained
    /// meanwhile): the heuristic hazard that only compensation undoes.
    var refusesOnceRolledBack = false
    /// Compensation attempts that fail before one succeeds (`Int.max`: every one fails).
    var compensationFailures = 0
}

/// The participants' side of every branch, with the barrier's rules of protocol/participant.proto:
/// a rollback or compensation leaves a marker that refuses any later prepare; phase two and
/// compensation are idempotent; a compensation runs its effect at most once.
struct SimulatedParticipants {
    enum State: Equatable {
        case unknown, prepared, committed, cancelled, compensated
    }

    struct Branch {
        var state = State.unknown
        /// Times the action's effect became durable (a prepared branch committed).
        var commits = 0
        /// Times a compensation's effect ran.
        var compensations = 0
    }

    private(set) var branches: [BranchKey: Branch] = [:]
    var behaviours: [BranchKey: BranchBehaviour] = [:]

    mutating func prepare(_ key: BranchKey) -> PrepareAnswer {
        switch branches[key, default: Branch()].state {
        case .cancelled, .compensated:
            return .refused(reason: "cancelled")
        case .prepared, .committed:
            return .prepared
        case .unknown:
            if behaviours[key]?.refuses == true { return .refused(reason: "insufficient funds") }
            branches[key, default: Branch()].state = .prepared
            return .prepared
        }
    }

    mutating func commit(_ key: BranchKey) -> CommitAnswer {
        switch branches[key, default: Branch()].state {
        case .prepared:
            branches[key]?.state = .committed
            branches[key]?.commits += 1
            return .committed
        case .committed, .compensated:
            return .committed
        case .unknown, .cancelled:
            return .heuristicRollback
        }
    }

    mutating func rollback(_ key: BranchKey) -> RollbackAnswer {
        switch branches[key, default: Branch()].state {
        case .prepared, .unknown, .cancelled:
            branches[key, default: Branch()].state = .cancelled
            return .rolledBack
        case .committed, .compensated:
            return .alreadyCommitted
        }
    }

    /// Nil: the attempt failed (a compensation refused, or one of a branch still prepared).
    mutating func compensate(_ key: BranchKey) -> CompensateAnswer? {
        switch branches[key, default: Branch()].state {
        case .prepared:
            return nil
        case .committed:
            if let failures = behaviours[key]?.compensationFailures, failures > 0 {
                if failures != Int.max { behaviours[key]?.compensationFailures = failures - 1 }
                return nil
            }
            branches[key]?.state = .compensated
            branches[key]?.compensations += 1
            return .compensated
        case .compensated:
            return .compensated
        case .unknown, .cancelled:
            branches[key, default: Branch()].state = .cancelled
            return .empty
        }
    }

    /// ROLLBACK PREPARED run by hand: the branch forgets it was prepared.
    mutating func rollBackByHand(_ key: BranchKey) {
        guard branches[key]?.state == .prepared else { return }
        branches[key]?.state = .unknown
        if behaviours[key]?.refusesOnceRolledBack == true { behaviours[key]?.refuses = true }
    }

    func state(_ key: BranchKey) -> State { branches[key]?.state ?? .unknown }
}
