/// The type code of a record. The log itself interprets `checkpoint` and `keyRotation`; codes from 0x0100 up
/// belong to the log's user (the coordinator's decisions), listed in protocol/recovery-log.md.
public struct RecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let checkpoint = RecordType(rawValue: 0x0001)
    /// From the next seal on, another key signs the log (`KeyRotation`).
    public static let keyRotation = RecordType(rawValue: 0x0002)

    /// The first code available to the log's user; lower codes are the log's own.
    public static let firstApplicationCode: UInt16 = 0x0100

    public var description: String {
        switch self {
        case .checkpoint: "CHECKPOINT"
        case .keyRotation: "KEY ROTATION"
        default: "0x" + String(rawValue, radix: 16).leftPadded(to: 4)
        }
    }
}
