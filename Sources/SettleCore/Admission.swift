/// What makes one admission of a transfer unique, carried in every gid of its branches: the
/// coordinator's epoch and a random nonce sealed in the ACCEPTED record.
///
/// A transfer id alone cannot name a branch for ever: the coordinator remembers finished ids
/// only for a window, and a client may submit a forgotten id again. With the id alone, the
/// second admission would reuse the first one's gids, and the participant's barrier would take
/// the new Prepare for a duplicate of the old, committed one. The nonce makes the second
/// admission's gids new. It is random rather than the ACCEPTED record's LSN so that it stays
/// unique when a log is restored from a backup, recreated, or (misconfigured) shared by two
/// daemons with one coordinator id.
///
/// The epoch is 1 until coordinator failover raises it: a standby that takes over an id will seal
/// a higher epoch, so that a participant can refuse a Prepare from an older one (not yet built;
/// the format leaves the room).
public struct Admission: Hashable, Sendable, Codable, CustomStringConvertible {
    public let epoch: UInt32
    public let nonce: UInt64

    /// The epoch of a coordinator whose log lives in files: there is no failover to fence.
    public static let singleDaemonEpoch: UInt32 = 1
    /// `UInt32.max` in decimal.
    static let epochDigitsMax = 10
    /// A 64-bit nonce in lower-case hexadecimal, always this long.
    static let nonceHexDigits = 16

    public init(epoch: UInt32, nonce: UInt64) throws(GIDError) {
        guard epoch >= 1 else { throw GIDError("epoch must be at least 1, not \(epoch)") }
        self.epoch = epoch
        self.nonce = nonce
    }

    /// A fresh admission: 64 bits from the system's cryptographic generator.
    /// An epoch of 0 (never valid) counts as 1.
    public static func random(epoch: UInt32 = singleDaemonEpoch) -> Admission {
        var generator = SystemRandomNumberGenerator()
        return Admission(validEpoch: max(1, epoch), nonce: generator.next())
    }

    private init(validEpoch epoch: UInt32, nonce: UInt64) {
        self.epoch = epoch
        self.nonce = nonce
    }

    /// `<epoch>:<nonce>`, as it appears inside a gid.
    public var description: String { "\(epoch):\(nonceHex)" }

    public var nonceHex: String {
        let hex = String(nonce, radix: 16)
        return String(repeating: "0", count: Self.nonceHexDigits - hex.utf8.count) + hex
    }

    /// Parses the two gid parts; canonical forms only, so each admission has one spelling.
    init(epochText: Substring, nonceText: Substring) throws(GIDError) {
        guard let epoch = UInt32(epochText), String(epoch) == epochText else {
            throw GIDError("epoch \"\(epochText)\" is not a canonical decimal from 1 to \(UInt32.max)")
        }
        let isLowerHex = nonceText.utf8.allSatisfy { byte in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
        }
        guard nonceText.utf8.count == Self.nonceHexDigits, isLowerHex, let nonce = UInt64(nonceText, radix: 16) else {
            throw GIDError("admission nonce \"\(nonceText)\" is not \(Self.nonceHexDigits) lower-case hexadecimal digits")
        }
        try self.init(epoch: epoch, nonce: nonce)
    }

    // Stored as "<epoch>:<nonce-hex>" so the audit trail shows what the gids show.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "admission \"\(text)\" is not <epoch>:<nonce>"))
        }
        do {
            try self.init(epochText: parts[0], nonceText: parts[1])
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
