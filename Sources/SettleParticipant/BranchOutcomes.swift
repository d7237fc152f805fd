/// What each participant operation answers, before it becomes a protocol message.
enum PrepareOutcome: Equatable, Sendable {
    case prepared
    case refused(reason: String)
    case cancelled
}

enum CommitOutcome: Equatable, Sendable {
    case committed
    case heuristicRollback
}

enum RollbackOutcome: Equatable, Sendable {
    case rolledBack
    case alreadyCommitted
}

enum CompensateOutcome: Equatable, Sendable {
    case compensated
    case empty
    case refused(reason: String)
}

/// A gid's state as the barrier and `pg_prepared_xacts` show it, outside any transaction.
struct BarrierState: Equatable, Sendable {
    var isPrepared: Bool
    var isCancelled: Bool
    var actionRecorded: Bool
}
