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

public enum CompensateAnswer: Equatable, Sendable {
    case compensated
    /// The action never committed: nothing to undo (recorded so a late action is refused).
    case empty
}

/// How a transfer ended.
public enum TransferOutcome: String, Equatable, Sendable {
    case committed
    case aborted
    /// Finished by compensation: no net effect.
    case compensated
}

/// What the machine asks to be appended to the recovery log. It continues only once told the
/// entry is logged (for decisions: sealed and durable).
public enum TransferLogEntry: Equatable, Sendable {
    case commit
    case abort(reason: String)
    /// Finish forward without atomic isolation: commit what is prepared, re-drive the late.
    case saga
    /// Give up the saga: cancel what did not commit, compensate what did, in reverse order.
    case compensate(reason: String)
    /// A compensation kept failing past its retry policy: an operator must resolve the transfer.
    case stuck(reason: String)
    case end(TransferOutcome)
    /// A branch contradicted the decision (re-drive refused after COMMIT, or committed despite
    /// ABORT): the transfer needs compensation or an operator.
    case heuristic(branch: Int, reason: String)

    /// COMMIT, ABORT, SAGA and COMPENSATE decide what phase two does; every command that
    /// follows is signed over the LSN of the latest of them.
    public var isDecision: Bool {
        switch self {
        case .commit, .abort, .saga, .compensate: true
        case .stuck, .end, .heuristic: false
        }
    }
}

/// The decisions a transfer's log can hold, latest first in what recovery follows. The raw values
/// are those checkpoints already store.
public enum Decision: String, Codable, Sendable, CaseIterable {
    case commit
    case abort
    case saga
    case compensate

    /// The record that seals this decision; `reason` is ABORT's and COMPENSATE's.
    public func entry(reason: String) -> TransferLogEntry {
        switch self {
        case .commit: .commit
        case .abort: .abort(reason: reason)
        case .saga: .saga
        case .compensate: .compensate(reason: reason)
        }
    }
}
