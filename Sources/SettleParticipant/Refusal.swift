import SettleCore

/// A business "no" from an action or compensation: insufficient funds, an unknown account.
///
/// Throwing it rolls the local transaction back and answers the coordinator `refused` with the
/// reason; any other error is a failure, not a refusal.
public struct Refusal: Error, Sendable, CustomStringConvertible {
    /// Shown to the coordinator and in the transfer's record: at most 1024 bytes are sent.
    public let reason: String

    public init(reason: String) { self.reason = reason }

    public var description: String { "refused: \(reason)" }

    static let reasonBytesMax = 1024

    var boundedReason: String { reason.truncated(toUTF8Bytes: Self.reasonBytesMax) }
}
