import SignedLog

/// The message a coordinator signs for each Commit, Rollback and Compensate it sends, and a
/// participant verifies before acting (protocol/phase-two-signature.md).
///
/// It is signed with the log's own Ed25519 key. A separate key would add no protection — both
/// would live in the same process, exposed to the same compromise — and one key lets an auditor
/// check, with the public key that already verifies the log, that every commit and compensation
/// in a participant's database was ordered by a sealed decision. The leading domain string keeps
/// these signatures apart from the log's seals: no seal can be replayed as an order, nor an order
/// as a seal.
public struct PhaseTwoOrder: Sendable, Equatable {
    public enum Command: String, Sendable, CaseIterable {
        case commit, rollback, compensate
    }

    public static let domain = "settle-phase-two-order/v1"

    public let command: Command
    public let gid: String
    /// The LSN of the sealed record that decided the command; 0 only for a Rollback under
    /// presumed abort (no decision exists for the gid).
    public let decisionLSN: UInt64
    /// For Compensate: SHA-256 over the compensation's name, a zero byte and its payload, so the
    /// signature covers the work as well as the gid. The participant stores the same digest in
    /// the `compensation` row's `digest` column. Names are `[a-z0-9._-]`, never NUL, so the NUL
    /// separator makes the encoding unambiguous.
    public let work: [UInt8]?

    public init(command: Command, gid: String, decisionLSN: UInt64, work: [UInt8]? = nil) {
        self.command = command
        self.gid = gid
        self.decisionLSN = decisionLSN
        self.work = work
    }

    public static func compensationWork(name: String, payload: some Collection<UInt8>) -> [UInt8] {
        var hasher = SHA256Hasher()
        hasher.update(Array(name.utf8))
        hasher.update([0])
        hasher.update(payload)
        return hasher.finalize().bytes
    }

    /// domain NUL command NUL gid NUL lsn (8 bytes, big-endian) [work (32 bytes)]: every field
    /// is either fixed-length or NUL-terminated, and none may hold a NUL, so no two orders share
    /// one message.
    public var signedBytes: [UInt8] {
        var bytes = Array(Self.domain.utf8) + [0] + Array(command.rawValue.utf8) + [0] + Array(gid.utf8) + [0]
        withUnsafeBytes(of: decisionLSN.bigEndian) { bytes.append(contentsOf: $0) }
        if let work { bytes.append(contentsOf: work) }
        return bytes
    }

    public func signature(with key: SigningKey) throws -> [UInt8] {
        try key.sign(signedBytes)
    }

    /// Why `signature` does not make this order one of `keys`' holder; nil when it does.
    public func refusal(of signature: [UInt8], keys: [VerifyingKey]) -> String? {
        if signature.isEmpty { return "the \(command.rawValue) of \(gid) is not signed" }
        if command != .rollback && decisionLSN == 0 {
            return "the \(command.rawValue) of \(gid) names no decision (LSN 0)"
        }
        if gid.utf8.contains(0) { return "the gid holds a NUL byte" }
        let message = signedBytes
        guard keys.contains(where: { $0.isValidSignature(signature, for: message) }) else {
            return "the \(command.rawValue) of \(gid) at decision LSN \(decisionLSN) is not signed by the coordinator's key"
        }
        return nil
    }
}
