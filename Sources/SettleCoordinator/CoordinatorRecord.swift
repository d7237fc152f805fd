import Foundation
import SettleCore
import SignedLog

/// The coordinator's records in the recovery log (type codes in protocol/recovery-log.md). Each
/// payload is UTF-8 JSON with sorted keys, so that `settle audit dump` shows it as written.
public enum CoordinatorRecord: Equatable, Sendable {
    /// The transfer as submitted, sealed before any branch is prepared: after a crash the
    /// coordinator still knows the id (idempotency) and what it promised to do.
    /// The admission's nonce is sealed here, before any gid that carries it is sent.
    /// `submittedBy` is the authenticated client (nil in records from before clients were named).
    case accepted(TransferSpec, admission: Admission, submittedAtMilliseconds: Int64, submittedBy: String? = nil)
    case commit(transferID: String)
    case abort(transferID: String, reason: String)
    /// `facts` is nil only in records written before they were sealed with END.
    case end(transferID: String, outcome: TransferOutcome, facts: FinalFacts?)
    case heuristic(transferID: String, branch: Int, reason: String)
    /// `deadlineAtMilliseconds`: wall-clock time at which the saga gives up and compensates,
    /// sealed so that a restart resumes the same deadline rather than a fresh one (nil in records
    /// written before it was sealed).
    case saga(transferID: String, deadlineAtMilliseconds: Int64?)
    case compensate(transferID: String, reason: String)
    case stuck(transferID: String, reason: String, facts: FinalFacts?)
    /// An operator's decision for a stuck transfer: its final outcome, why, and who (the
    /// authenticated client; with four-eyes, the proposer, and the approver beside it).
    case manual(
        transferID: String, outcome: TransferStatus, reason: String, operator: String, finishedAtMilliseconds: Int64?,
        approvedBy: String? = nil
    )
    /// Four-eyes: an operator's proposed resolution, which takes effect only once a different
    /// operator approves it (then MANUAL is sealed).
    case proposed(transferID: String, outcome: TransferStatus, reason: String, operator: String)
    /// Four-eyes: an operator rejected (or its proposer withdrew) the waiting proposal.
    case rejected(transferID: String, reason: String, operator: String)
    /// An operator asked for a transfer's waiting phase-two or compensation retries to run now
    /// (the console's "retry now"). It decides nothing; it is sealed so that every operator action
    /// is on the record with who took it.
    case retry(transferID: String, operator: String)

    static let acceptedType = RecordType(rawValue: CoordinatorRecordType.accepted.rawValue)
    static let commitType = RecordType(rawValue: CoordinatorRecordType.commit.rawValue)
    static let abortType = RecordType(rawValue: CoordinatorRecordType.abort.rawValue)
    static let endType = RecordType(rawValue: CoordinatorRecordType.end.rawValue)
    static let heuristicType = RecordType(rawValue: CoordinatorRecordType.heuristic.rawValue)
    static let sagaType = RecordType(rawValue: CoordinatorRecordType.saga.rawValue)
    static let compensateType = RecordType(rawValue: CoordinatorRecordType.compensate.rawValue)
    /// END with outcome `compensated` is written as its own type, COMPENSATED.
    static let compensatedType = RecordType(rawValue: CoordinatorRecordType.compensated.rawValue)
    static let stuckType = RecordType(rawValue: CoordinatorRecordType.stuck.rawValue)
    static let manualType = RecordType(rawValue: CoordinatorRecordType.manual.rawValue)
    static let proposedType = RecordType(rawValue: CoordinatorRecordType.proposed.rawValue)
    static let rejectedType = RecordType(rawValue: CoordinatorRecordType.rejected.rawValue)
    static let retryType = RecordType(rawValue: CoordinatorRecordType.retry.rawValue)

    public var transferID: String {
        switch self {
        case .accepted(let spec, _, _, _): spec.id
        case .commit(let id), .abort(let id, _), .end(let id, _, _), .heuristic(let id, _, _), .saga(let id, _),
            .compensate(let id, _), .stuck(let id, _, _), .manual(let id, _, _, _, _, _), .proposed(let id, _, _, _), .rejected(let id, _, _),
            .retry(let id, _):
            id
        }
    }

    private struct Payload: Codable {
        var transfer: String
        var spec: TransferSpec?
        var admission: Admission?
        var submittedAtMs: Int64?
        var final: FinalFacts?
        var finishedAtMs: Int64?
        var reason: String?
        var outcome: String?
        var branch: Int?
        var `operator`: String?
        var submittedBy: String?
        var approvedBy: String?
        var deadlineAtMs: Int64?
    }

    /// The record as it is sealed in the log.
    public func entry() -> LogEntry {
        var payload = Payload(transfer: transferID)
        let type: RecordType
        switch self {
        case .accepted(let spec, let admission, let submittedAt, let submittedBy):
            type = Self.acceptedType
            payload.spec = spec
            payload.admission = admission
            payload.submittedAtMs = submittedAt
            payload.submittedBy = submittedBy
        case .commit:
            type = Self.commitType
        case .abort(_, let reason):
            type = Self.abortType
            payload.reason = reason
        case .end(_, .compensated, let facts):
            type = Self.compensatedType
            payload.final = facts
        case .end(_, let outcome, let facts):
            type = Self.endType
            payload.outcome = outcome.rawValue
            payload.final = facts
        case .saga(_, let deadline):
            type = Self.sagaType
            payload.deadlineAtMs = deadline
        case .compensate(_, let reason):
            type = Self.compensateType
            payload.reason = reason
        case .stuck(_, let reason, let facts):
            type = Self.stuckType
            payload.reason = reason
            payload.final = facts
        case .manual(_, let outcome, let reason, let who, let finishedAt, let approver):
            type = Self.manualType
            payload.outcome = outcome.rawValue
            payload.reason = reason
            payload.operator = who
            payload.finishedAtMs = finishedAt
            payload.approvedBy = approver
        case .proposed(_, let outcome, let reason, let who):
            type = Self.proposedType
            payload.outcome = outcome.rawValue
            payload.reason = reason
            payload.operator = who
        case .rejected(_, let reason, let who):
            type = Self.rejectedType
            payload.reason = reason
            payload.operator = who
        case .retry(_, let who):
            type = Self.retryType
            payload.operator = who
        case .heuristic(_, let branch, let reason):
            type = Self.heuristicType
            payload.branch = branch
            payload.reason = reason
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain structs of strings and integers cannot fail.
        return LogEntry(type: type, payload: Array(try! encoder.encode(payload)))
    }

    /// Nil for record types that are not the coordinator's (checkpoints, future types).
    public init?(_ record: LogRecord) throws {
        let known = [
            Self.acceptedType, Self.commitType, Self.abortType, Self.endType, Self.heuristicType, Self.sagaType,
            Self.compensateType, Self.compensatedType, Self.stuckType, Self.manualType, Self.proposedType, Self.rejectedType,
            Self.retryType,
        ]
        guard known.contains(record.type) else { return nil }
        let payload = try JSONDecoder().decode(Payload.self, from: Data(record.payload))
        func require<Value>(_ value: Value?, _ field: String) throws -> Value {
            guard let value else { throw RecordDecodingError(lsn: record.lsn, field: field) }
            return value
        }
        switch record.type {
        case Self.acceptedType:
            self = .accepted(
                try require(payload.spec, "spec"), admission: try require(payload.admission, "admission"),
                submittedAtMilliseconds: try require(payload.submittedAtMs, "submittedAtMs"), submittedBy: payload.submittedBy
            )
        case Self.commitType:
            self = .commit(transferID: payload.transfer)
        case Self.abortType:
            self = .abort(transferID: payload.transfer, reason: try require(payload.reason, "reason"))
        case Self.endType:
            guard let outcome = TransferOutcome(rawValue: try require(payload.outcome, "outcome")) else {
                throw RecordDecodingError(lsn: record.lsn, field: "outcome")
            }
            self = .end(transferID: payload.transfer, outcome: outcome, facts: payload.final)
        case Self.sagaType:
            self = .saga(transferID: payload.transfer, deadlineAtMilliseconds: payload.deadlineAtMs)
        case Self.compensateType:
            self = .compensate(transferID: payload.transfer, reason: try require(payload.reason, "reason"))
        case Self.compensatedType:
            self = .end(transferID: payload.transfer, outcome: .compensated, facts: payload.final)
        case Self.stuckType:
            self = .stuck(transferID: payload.transfer, reason: try require(payload.reason, "reason"), facts: payload.final)
        case Self.rejectedType:
            self = .rejected(
                transferID: payload.transfer, reason: try require(payload.reason, "reason"), operator: try require(payload.operator, "operator")
            )
        case Self.retryType:
            self = .retry(transferID: payload.transfer, operator: try require(payload.operator, "operator"))
        case Self.manualType, Self.proposedType:
            guard let outcome = TransferStatus(rawValue: try require(payload.outcome, "outcome")), outcome.isFinal else {
                throw RecordDecodingError(lsn: record.lsn, field: "outcome")
            }
            let reason = try require(payload.reason, "reason")
            let who = try require(payload.operator, "operator")
            if record.type == Self.proposedType {
                self = .proposed(transferID: payload.transfer, outcome: outcome, reason: reason, operator: who)
            } else {
                self = .manual(
                    transferID: payload.transfer, outcome: outcome, reason: reason, operator: who,
                    finishedAtMilliseconds: payload.finishedAtMs, approvedBy: payload.approvedBy
                )
            }
        default:
            self = .heuristic(
                transferID: payload.transfer, branch: try require(payload.branch, "branch"), reason: try require(payload.reason, "reason")
            )
        }
    }
}

struct RecordDecodingError: Error, CustomStringConvertible {
    let lsn: LSN
    let field: String
    var description: String { "coordinator record at LSN \(lsn) lacks a valid \(field)" }
}

extension CoordinatorRecord {
    /// The record's name as traces and tests show it (END of any outcome is "END").
    var kind: String {
        switch self {
        case .accepted: "ACCEPTED"
        case .commit: "COMMIT"
        case .abort: "ABORT"
        case .end: "END"
        case .heuristic: "HEURISTIC"
        case .saga: "SAGA"
        case .compensate: "COMPENSATE"
        case .stuck: "STUCK"
        case .manual: "MANUAL"
        case .proposed: "PROPOSED"
        case .rejected: "REJECTED"
        case .retry: "RETRY"
        }
    }
}
