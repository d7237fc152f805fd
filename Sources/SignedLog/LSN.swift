/// Log sequence number: the position of a record in the log. The first record is LSN 1; every
/// record takes the next number; seals take none.
public struct LSN: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible,
    ExpressibleByIntegerLiteral
{
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(integerLiteral value: UInt64) { self.rawValue = value }

    /// "No record yet": the LSN before the first.
    public static let none = LSN(rawValue: 0)
    public static let first = LSN(rawValue: 1)

    public var next: LSN { LSN(rawValue: rawValue + 1) }
    public var description: String { String(rawValue) }
    public static func < (lhs: LSN, rhs: LSN) -> Bool { lhs.rawValue < rhs.rawValue }
}
