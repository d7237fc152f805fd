/// The public keys a reader trusts to have signed the log: the key it started with and every key
/// it rotated to (protocol/recovery-log.md, "Key epochs").
///
/// A rotation record names the next key and carries its public key, but a reader follows a
/// rotation only to a key it was given: keys are rotated when one is suspected stolen, and a
/// thief holding the old key could otherwise rotate the log to a key of their own.
public struct LogKeys: Sendable {
    public let keys: [VerifyingKey]

    public init(_ keys: [VerifyingKey]) {
        self.keys = keys
    }

    public func key(for id: KeyID) -> VerifyingKey? {
        keys.first { $0.keyID == id }
    }

    /// Whether `signature` over `message` is valid for the trusted key `id`.
    func verifies(_ signature: [UInt8], for message: [UInt8], by id: KeyID) -> Bool {
        key(for: id)?.isValidSignature(signature, for: message) ?? false
    }
}
