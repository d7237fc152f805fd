/// A signed tree head as an auditor keeps it: a version 2 seal's fields, in JSON, with
/// everything needed to check its signature and nothing else (protocol/receipts.md).
public struct TreeHead: Codable, Sendable, Equatable {
    public var sealNumber: UInt64
    /// The number of records the tree covers: the seal's last LSN.
    public var treeSize: UInt64
    public var rootHash: String
    public var chainHash: String
    public var sealedAtNanoseconds: Int64
    public var keyID: String
    public var signature: String

    public init?(seal: LogSeal) {
        guard let root = seal.treeRoot else { return nil }
        sealNumber = seal.number
        treeSize = seal.lastLSN.rawValue
        rootHash = root.description
        chainHash = seal.chainHash.description
        sealedAtNanoseconds = seal.sealedAtNanoseconds
        keyID = seal.keyID.description
        signature = hexEncoded(seal.signature)
    }

    /// The seal these fields describe; nil when a hash or the signature is not well-formed hex.
    public var seal: LogSeal? {
        guard let root = SHA256Digest(hex: rootHash), let chain = SHA256Digest(hex: chainHash),
            let key = SHA256Digest(hex: keyID), let signatureBytes = hexDecoded(signature),
            signatureBytes.count == Ed25519.signatureByteCount
        else { return nil }
        return LogSeal(
            number: sealNumber, lastLSN: LSN(rawValue: treeSize), chainHash: chain, treeRoot: root,
            sealedAtNanoseconds: sealedAtNanoseconds, keyID: key, signature: signatureBytes
        )
    }

    public var root: SHA256Digest? { SHA256Digest(hex: rootHash) }

    /// Why this head was not signed by any of `keys`, or nil when one of them signed it.
    public func problem(verifiedWith keys: LogKeys) -> String? {
        guard let id = SHA256Digest(hex: keyID) else { return "the tree head's key id is not well-formed hex" }
        guard let key = keys.key(for: id) else { return "the tree head was signed by key id \(keyID), not by a given key" }
        return problem(verifiedWith: key)
    }

    /// Why this head is not a genuine head signed by `key`, or nil when it is.
    public func problem(verifiedWith key: VerifyingKey) -> String? {
        guard let seal else { return "the tree head's hashes or signature are not well-formed hex" }
        guard seal.keyID == key.keyID else {
            return "the tree head was signed by key id \(seal.keyID), not by the given key \(key.keyID)"
        }
        guard key.isValidSignature(seal.signature, for: seal.signedMessage) else {
            return "the tree head's Ed25519 signature does not verify"
        }
        return nil
    }
}
