/// The hashes of the log's Merkle tree, exactly those of RFC 9162 §2.1.1 (Certificate
/// Transparency v2), so a third party verifies receipts and consistency proofs with any
/// RFC 9162 library: a leaf is SHA-256(0x00 ‖ data), an interior node SHA-256(0x01 ‖ left ‖
/// right); the prefixes keep a leaf from ever being passed off as a node.
public enum MerkleHash {
    /// The root of the tree with no leaves: SHA-256 of the empty string.
    public static let emptyRoot = SHA256Digest(hashing: [UInt8]())

    /// A record's leaf: its frame body, every byte the CRC covers (kind, LSN, type, time,
    /// payload, chain hash).
    public static func leaf(_ data: some Collection<UInt8>) -> SHA256Digest {
        var hasher = SHA256Hasher()
        hasher.update(CollectionOfOne(UInt8(0x00)))
        hasher.update(data)
        return hasher.finalize()
    }

    public static func node(_ left: SHA256Digest, _ right: SHA256Digest) -> SHA256Digest {
        var hasher = SHA256Hasher()
        hasher.update(CollectionOfOne(UInt8(0x01)))
        hasher.update(left.bytes)
        hasher.update(right.bytes)
        return hasher.finalize()
    }
}
