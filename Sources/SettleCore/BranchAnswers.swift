/// A participant's answers, as the transfer machine sees them (protocol/settle/v1/participant.proto).
public enum PrepareAnswer: Equatable, Sendable {
    case prepared
    /// A business refusal, or a branch cancelled before the prepare arrived.
    case refused(reason: String)
}

public enum CommitAnswer: Equatable, Sendable {
    case committed
    /// The prepared transaction is gone and the branch never committed.
    case heuristicRollback
}

public enum RollbackAnswer: Equatable, Sendable {
    case rolledBack
    /// The branch had committed: impossible without a COMMIT decision, so a hazard.
    case alreadyCommitted
}

/// How a transfer ended.
public enum TransferOutcome: String, Equatable, Sendable {
    case committed
    case aborted
}

/// What the machine asks to be appended to the recovery log. It continues only once told the
/// entry is logged (for decisions: sealed and durable).
public enum TransferLogEntry: Equatable, Sendable {
    case commit
    case abort(reason: String)
    case end(TransferOutcome)
    /// A branch contradicted the decision (re-drive refused after COMMIT, or committed despite
    /// ABORT): the transfer needs compensation or an operator.
    case heuristic(branch: Int, reason: String)
}
