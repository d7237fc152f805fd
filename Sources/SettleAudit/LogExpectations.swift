import SettleAuth
import SettleCoordinator
import SettleCore
import SignedLog

/// What the coordinator's log says each branch's database must show: read once, in LSN order,
/// from sealed records only.
public struct LogExpectations: Sendable {
    /// How a transfer ended, as far as the log tells.
    public enum Ending: Sendable, Equatable {
        case inFlight
        case committed
        case aborted
        case compensated
        /// An operator must act (STUCK), or did (MANUAL): the databases were made right by hand.
        case stuck
        case manual(TransferStatus)
    }

    /// The sealed decisions of one admission of a transfer, by the command each orders: a
    /// phase-two order's LSN must be one of them.
    public struct Decisions: Sendable, Equatable {
        /// COMMIT and SAGA records: commits are signed over one of these.
        public var commit: Set<UInt64> = []
        /// ABORT and COMPENSATE records (and 0, presumed abort): rollbacks.
        public var rollback: Set<UInt64> = [0]
        /// COMPENSATE records: compensations.
        public var compensate: Set<UInt64> = []
    }

    public struct Transfer: Sendable {
        public let id: String
        public let admission: Admission
        public let participants: [String]
        /// Per branch, the digest of its action and of its compensation (SignedOrder.workDigest):
        /// what the barrier rows' `digest` must hold.
        public let actionDigests: [[UInt8]]
        public let compensationDigests: [[UInt8]?]
        public var ending: Ending = .inFlight
        public var decisions = Decisions()
    }

    /// By `"<admission>:<transfer id>"`: every admission the log holds, also of ids admitted again.
    public private(set) var transfers: [String: Transfer] = [:]
    private var currentAdmission: [String: String] = [:]
    public private(set) var recordsRead = 0

    public init() {}

    public static func key(admission: Admission, transferID: String) -> String { "\(admission):\(transferID)" }

    /// Reads every sealed record of the log at `directory`, checking seals with `keys`.
    public static func read(
        directory: String, keys: LogKeys, progress: (_ lsn: UInt64) -> Void = { _ in }
    ) throws -> LogExpectations {
        var expectations = LogExpectations()
        try LogReader(directory: directory, keys: keys).forEachBatch(from: .first) { records, _ in
            for record in records {
                guard let coordinatorRecord = try CoordinatorRecord(record) else { continue }
                expectations.apply(coordinatorRecord, lsn: record.lsn.rawValue)
            }
            progress(records.last?.lsn.rawValue ?? 0)
        }
        return expectations
    }

    public mutating func apply(_ record: CoordinatorRecord, lsn: UInt64) {
        recordsRead += 1
        if case .accepted(let spec, let admission, _, _) = record {
            let key = Self.key(admission: admission, transferID: spec.id)
            transfers[key] = Transfer(
                id: spec.id, admission: admission, participants: spec.branches.map(\.participant),
                actionDigests: spec.branches.map { SignedOrder.workDigest(name: $0.action, payload: $0.payload) },
                compensationDigests: spec.branches.map { branch in
                    branch.compensation.isEmpty
                        ? nil
                        : SignedOrder.workDigest(
                            name: branch.compensation,
                            payload: branch.compensationPayload.isEmpty ? branch.payload : branch.compensationPayload
                        )
                }
            )
            currentAdmission[spec.id] = key
            return
        }
        guard let key = owner(of: record) else { return }
        switch record {
        case .commit, .saga: transfers[key]?.decisions.commit.insert(lsn)
        case .abort: transfers[key]?.decisions.rollback.insert(lsn)
        case .compensate:
            transfers[key]?.decisions.compensate.insert(lsn)
            transfers[key]?.decisions.rollback.insert(lsn)
        case .end(_, .committed, _): transfers[key]?.ending = .committed
        case .end(_, .aborted, _): transfers[key]?.ending = .aborted
        case .end(_, .compensated, _): transfers[key]?.ending = .compensated
        case .stuck: transfers[key]?.ending = .stuck
        case .manual(_, let outcome, _, _, _, _): transfers[key]?.ending = .manual(outcome)
        case .accepted, .heuristic, .proposed, .rejected, .retry: break
        }
    }

    /// The admission a record belongs to: the one its final facts name, else the id's latest.
    private func owner(of record: CoordinatorRecord) -> String? {
        let sealed: Admission? =
            switch record {
            case .end(_, _, let facts), .stuck(_, _, let facts): facts?.admission
            default: nil
            }
        if let sealed { return Self.key(admission: sealed, transferID: record.transferID) }
        return currentAdmission[record.transferID]
    }
}
