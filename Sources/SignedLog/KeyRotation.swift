/// The payload of a KEY ROTATION record (type `0x0002`): from the seal after this record's
/// batch on, the log is sealed by `newKey` instead of `oldKey`.
///
/// Both keys sign it — the old one authorizes the change, the new one proves its holder took it
/// on — over the record's LSN and the chain hash before it, so a rotation cannot be replayed at
/// another place in this log or in another log (protocol/recovery-log.md, "Key epochs").
public struct KeyRotation: Sendable, Equatable {
    public static let domainTag = Array("settle-log-key-rotation-v1".utf8)
    /// Two Ed25519 DER SubjectPublicKeyInfo (44 bytes each) and two signatures.
    public static let payloadByteCount = 44 + 44 + 64 + 64

    public let oldKeyDER: [UInt8]
    public let newKeyDER: [UInt8]
    public let oldKeySignature: [UInt8]
    public let newKeySignature: [UInt8]

    public var oldKeyID: KeyID { KeyID(hashing: oldKeyDER) }
    public var newKeyID: KeyID { KeyID(hashing: newKeyDER) }

    /// What both keys sign for a rotation record at `lsn`, after the record whose chain hash is
    /// `previousChainHash`.
    public static func signedMessage(
        lsn: LSN, previousChainHash: SHA256Digest, oldKeyDER: [UInt8], newKeyDER: [UInt8]
    ) -> [UInt8] {
        var writer = BigEndianWriter(capacity: domainTag.count + 8 + 32 + 88)
        writer.write(domainTag)
        writer.write(lsn.rawValue)
        writer.write(previousChainHash.bytes)
        writer.write(oldKeyDER)
        writer.write(newKeyDER)
        return writer.bytes
    }

    static func signed(
        lsn: LSN, previousChainHash: SHA256Digest, from oldKey: SigningKey, to newKey: SigningKey
    ) throws -> KeyRotation {
        let oldDER = oldKey.verifyingKey.derBytes
        let newDER = newKey.verifyingKey.derBytes
        let message = signedMessage(lsn: lsn, previousChainHash: previousChainHash, oldKeyDER: oldDER, newKeyDER: newDER)
        return KeyRotation(
            oldKeyDER: oldDER, newKeyDER: newDER,
            oldKeySignature: try oldKey.sign(message), newKeySignature: try newKey.sign(message)
        )
    }

    public var encoded: [UInt8] { oldKeyDER + newKeyDER + oldKeySignature + newKeySignature }

    public static func decode(_ payload: [UInt8]) -> KeyRotation? {
        guard payload.count == payloadByteCount else { return nil }
        return KeyRotation(
            oldKeyDER: Array(payload[0..<44]), newKeyDER: Array(payload[44..<88]),
            oldKeySignature: Array(payload[88..<152]), newKeySignature: Array(payload[152..<216])
        )
    }

    /// Why this rotation, found at `lsn` after `previousChainHash`, is not signed by both keys it
    /// names; nil when it is.
    func signatureProblem(lsn: LSN, previousChainHash: SHA256Digest) -> String? {
        guard let oldKey = try? VerifyingKey(der: oldKeyDER), let newKey = try? VerifyingKey(der: newKeyDER) else {
            return "key rotation at LSN \(lsn) names a key that is not an Ed25519 public key"
        }
        guard oldKey.keyID != newKey.keyID else { return "key rotation at LSN \(lsn) rotates key id \(oldKey.keyID) to itself" }
        let message = Self.signedMessage(lsn: lsn, previousChainHash: previousChainHash, oldKeyDER: oldKeyDER, newKeyDER: newKeyDER)
        guard oldKey.isValidSignature(oldKeySignature, for: message) else {
            return "key rotation at LSN \(lsn) is not signed by the old key \(oldKey.keyID)"
        }
        guard newKey.isValidSignature(newKeySignature, for: message) else {
            return "key rotation at LSN \(lsn) is not signed by the new key \(newKey.keyID)"
        }
        return nil
    }
}
