import SettleCore

/// One branch of one simulated transfer.
public struct BranchKey: Hashable, Sendable, CustomStringConvertible {
    public let transfer: Int
    public let branch: Int
    public var description: String { "t\(transfer)/b\(branch)" }

    public init(transfer: Int, branch: Int) {
        self.transfer = transfer
        self.branch = branch
    }
}

/// A row of a participant's database: a prepared branch holds the one its action updated until
/// it is committed or rolled back, and a prepare that needs it waits.
struct RowKey: Hashable, Comparable, Sendable {
    let participant: Int
    let row: Int

    static func < (lhs: RowKey, rhs: RowKey) -> Bool { (lhs.participant, lhs.row) < (rhs.participant, rhs.row) }
}

/// How a simulated participant treats one branch: the faults the scheduler gave it.
public struct BranchBehaviour: Sendable {
    public init() {}

    /// The row its action updates (branch b runs at participant b).
    public var row = 0
    public var refuses = false
    /// Answers its first prepare this late (past the prepare deadline, often).
    public var slowPrepareMilliseconds = 0
    /// A DBA rolls the branch back by hand once it is prepared (ROLLBACK PREPARED).
    public var rolledBackByHand = false
    /// After that rollback, preparing the branch again is refused (its account was drained
    /// meanwhile): the heuristic hazard that only compensation undoes.
    public var refusesOnceRolledBack = false
    /// Compensation attempts that fail before one succeeds (`Int.max`: every one fails).
    public var compensationFailures = 0
}

/// The participants' side of every branch, with the barrier's rules of protocol/participant.proto:
/// a rollback or compensation leaves a marker that refuses any later prepare; phase two and
/// compensation are idempotent; a compensation runs its effect at most once.
public struct SimulatedParticipants: Sendable {
    public init() {}

    public enum State: Equatable, Sendable {
        case unknown, prepared, committed, cancelled, compensated
    }

    public struct Branch: Sendable {
        public init() {}

        public var state = State.unknown
        /// Times the action's effect became durable (a prepared branch committed).
        public var commits = 0
        /// Times a compensation's effect ran.
        public var compensations = 0
    }

    public enum PrepareOutcome: Equatable, Sendable {
        case answered(PrepareAnswer)
        /// The branch's row is held by another prepared branch: the prepare waits for it.
        case waits(for: BranchKey)
    }

    public private(set) var branches: [BranchKey: Branch] = [:]
    public var behaviours: [BranchKey: BranchBehaviour] = [:]
    /// Which prepared branch holds each row.
    private(set) var holders: [RowKey: BranchKey] = [:]

    func row(of key: BranchKey) -> RowKey { RowKey(participant: key.branch, row: behaviours[key]?.row ?? 0) }

    public mutating func prepare(_ key: BranchKey) -> PrepareOutcome {
        switch branches[key, default: Branch()].state {
        case .cancelled, .compensated:
            return .answered(.refused(reason: "cancelled"))
        case .prepared, .committed:
            return .answered(.prepared)
        case .unknown:
            if let holder = holders[row(of: key)], holder != key { return .waits(for: holder) }
            if behaviours[key]?.refuses == true { return .answered(.refused(reason: "insufficient funds")) }
            branches[key, default: Branch()].state = .prepared
            holders[row(of: key)] = key
            return .answered(.prepared)
        }
    }

    /// A branch that is no longer prepared lets go of its row.
    private mutating func release(_ key: BranchKey) {
        if holders[row(of: key)] == key { holders[row(of: key)] = nil }
    }

    public mutating func commit(_ key: BranchKey) -> CommitAnswer {
        switch branches[key, default: Branch()].state {
        case .prepared:
            branches[key]?.state = .committed
            branches[key]?.commits += 1
            release(key)
            return .committed
        case .committed, .compensated:
            return .committed
        case .unknown, .cancelled:
            return .heuristicRollback
        }
    }

    public mutating func rollback(_ key: BranchKey) -> RollbackAnswer {
        switch branches[key, default: Branch()].state {
        case .prepared, .unknown, .cancelled:
            branches[key, default: Branch()].state = .cancelled
            release(key)
            return .rolledBack
        case .committed, .compensated:
            return .alreadyCommitted
        }
    }

    /// Nil: the attempt failed (a compensation refused, or one of a branch still prepared).
    public mutating func compensate(_ key: BranchKey) -> CompensateAnswer? {
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
    public mutating func rollBackByHand(_ key: BranchKey) {
        guard branches[key]?.state == .prepared else { return }
        branches[key]?.state = .unknown
        release(key)
        if behaviours[key]?.refusesOnceRolledBack == true { behaviours[key]?.refuses = true }
    }

    public func state(_ key: BranchKey) -> State { branches[key]?.state ?? .unknown }
}
