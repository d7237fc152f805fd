/// Type codes of the coordinator's records in the recovery log (protocol/recovery-log.md), with
/// the names `settle audit dump` shows.
public enum CoordinatorRecordType: UInt16, CaseIterable, Sendable {
    case accepted = 0x0101
    case commit = 0x0102
    case abort = 0x0103
    case end = 0x0104
    case saga = 0x0105
    case compensate = 0x0106
    case compensated = 0x0107
    case stuck = 0x0108
    case heuristic = 0x0109
    case manual = 0x010A
    case proposed = 0x010B
    case rejected = 0x010C
    case retry = 0x010D

    public var name: String {
        switch self {
        case .accepted: "ACCEPTED"
        case .commit: "COMMIT"
        case .abort: "ABORT"
        case .end: "END"
        case .saga: "SAGA"
        case .compensate: "COMPENSATE"
        case .compensated: "COMPENSATED"
        case .stuck: "STUCK"
        case .heuristic: "HEURISTIC"
        case .manual: "MANUAL"
        case .proposed: "PROPOSED"
        case .rejected: "REJECTED"
        case .retry: "RETRY"
        }
    }
}
