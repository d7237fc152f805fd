import SettleParticipant

/// The payload of every ExampleBank action and compensation: move `amount` minor units (cents)
/// into or out of `account`. Integers only; money never goes near floating point.
public struct Movement: Codable, Sendable, Hashable {
    public var account: String
    public var amount: Int64

    public init(account: String, amount: Int64) {
        self.account = account
        self.amount = amount
    }

    /// A single movement above this is refused: it bounds what one request can do.
    public static let amountMax: Int64 = 1_000_000_000_000
    static let accountBytesMax = 64

    /// An out-of-range movement is a business refusal: the coordinator records the reason.
    func validated() throws -> Movement {
        guard amount > 0, amount <= Self.amountMax else {
            throw Refusal(reason: "amount must be 1 to \(Self.amountMax) minor units, not \(amount)")
        }
        guard !account.isEmpty, account.utf8.count <= Self.accountBytesMax else {
            throw Refusal(reason: "account id must be 1 to \(Self.accountBytesMax) bytes")
        }
        return self
    }
}
