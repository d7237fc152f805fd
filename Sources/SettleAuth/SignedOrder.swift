import SignedLog

/// The message a coordinator signs for every command it sends a participant — Prepare, Commit,
/// Rollback, Compensate — and the participant verifies before acting (protocol/signed-orders.md).
///
/// An order names the participant it is for, so an order copied from one bank's barrier table (or
/// off the wire) is refused at another. Prepare and Compensate orders cover the work (operation
/// and payload), so a holder of the coordinator's token can neither inject work of its own under a
/// gid nor have a real gid committed with other work: Commit needs no work of its own, because
/// the only work that can be prepared under a gid is the work the coordinator signed for it.
///
/// It is signed with the log's own Ed25519 key. A separate key would add no protection — both
/// would live in the same process, exposed to the same compromise — and one key lets an auditor
/// check, with the public key that already verifies the log, that every effect in a participant's
/// database was ordered by a sealed decision. The leading domain string keeps these signatures
/// apart from the log's seals: no seal can be replayed as an order, nor an order as a seal.
public struct SignedOrder: Sendable, Equatable {
    public enum Command: String, Sendable, CaseIterable {
        case prepare, commit, rollback, compensate

        /// Prepare and Compensate carry work; Commit and Rollback do not.
        public var carriesWork: Bool { self == .prepare || self == .compensate }
    }

    public static let domain = "settle-order/v1"

    public let command: Command
    /// The participant the order is for, as the coordinator's configuration names it.
    public let participant: String
    public let gid: String
    /// The LSN of the sealed record that ordered the command: ACCEPTED for Prepare, the latest
    /// decision for the others; 0 only for a Rollback under presumed abort (no decision exists
    /// for the gid) and for a Prepare re-driven from a log that did not keep its ACCEPTED LSN.
    public let decisionLSN: UInt64
    /// For Prepare and Compensate: `workDigest` of the operation and its payload.
    public let work: [UInt8]?

    public init(command: Command, participant: String, gid: String, decisionLSN: UInt64, work: [UInt8]? = nil) {
        self.command = command
        self.participant = participant
        self.gid = gid
        self.decisionLSN = decisionLSN
        self.work = work
    }

    /// SHA-256 over the operation's name, a zero byte and its payload: what the participant keeps
    /// in the barrier row's `digest` column. Names are `[a-z0-9._-]`, never NUL, so the separator
    /// makes the encoding unambiguous.
    public static func workDigest(name: String, payload: some Collection<UInt8>) -> [UInt8] {
        var hasher = SHA256Hasher()
        hasher.update(Array(name.utf8))
        hasher.update([0])
        hasher.update(payload)
        return hasher.finalize().bytes
    }

    /// domain NUL command NUL participant NUL gid NUL lsn (8 bytes, big-endian) [work (32 bytes)]:
    /// every field is NUL-terminated or of fixed length, and none may hold a NUL, so no two orders
    /// share one message.
    public var signedBytes: [UInt8] {
        var bytes = Array(Self.domain.utf8) + [0] + Array(command.rawValue.utf8) + [0]
        bytes += Array(participant.utf8) + [0] + Array(gid.utf8) + [0]
        withUnsafeBytes(of: decisionLSN.bigEndian) { bytes.append(contentsOf: $0) }
        if let work { bytes.append(contentsOf: work) }
        return bytes
    }

    public func signature(with key: SigningKey) throws -> [UInt8] {
        try key.sign(signedBytes)
    }

    /// Why `seal` does not make this order one of `keys`' holder; nil when it does. `seal` is a
    /// lone order's 64-byte signature or an `OrderBatchSeal`; `verifiedBatches`, when given,
    /// spares verifying a batch's signature again for each of its orders.
    public func refusal(of seal: [UInt8], keys: [VerifyingKey], verifiedBatches: VerifiedOrderBatches? = nil) -> String? {
        if seal.isEmpty { return "the \(command.rawValue) of \(gid) is not signed" }
        if (command == .commit || command == .compensate) && decisionLSN == 0 {
            return "the \(command.rawValue) of \(gid) names no decision (LSN 0)"
        }
        if command.carriesWork != (work?.count == SHA256Digest.byteCount) {
            return "the \(command.rawValue) of \(gid) does not name its work as it must"
        }
        if gid.utf8.contains(0) || participant.utf8.contains(0) { return "the order holds a NUL byte" }
        let notSigned = "the \(command.rawValue) of \(gid) for \(participant) at LSN \(decisionLSN) is not signed by the coordinator's key"
        guard seal.count != Ed25519.signatureByteCount else {
            let message = signedBytes
            return keys.contains { $0.isValidSignature(seal, for: message) } ? nil : notSigned
        }
        guard let batch = OrderBatchSeal(encoded: seal) else { return "the \(command.rawValue) of \(gid) carries a malformed signature" }
        guard let message = batch.signedBytes(for: self) else {
            return "the \(command.rawValue) of \(gid) is not in the batch its signature's audit path names"
        }
        if verifiedBatches?.key(verified: batch.signature, over: message, among: keys) != nil { return nil }
        guard let key = keys.first(where: { $0.isValidSignature(batch.signature, for: message) }) else { return notSigned }
        verifiedBatches?.remember(batch.signature, over: message, verifiedBy: key)
        return nil
    }
}
