import SignedLog

/// One signature for many orders: the coordinator signs the root of a Merkle tree (RFC 9162's
/// hashes) whose leaves are the orders' messages, and each order carries the signature with its
/// audit path (protocol/signed-orders.md, "Orders signed in batches").
///
/// A signature costs the coordinator about 32 µs and each participant about 84 µs to verify on
/// this project's machine; a batch costs one signature, and a participant that already verified a
/// batch's root checks each further order of it with a few SHA-256 (`VerifiedOrderBatches`).
///
/// Encoded where a lone order's 64-byte signature goes (`SignedOrder.signature` on the wire,
/// `decision_signature` in the barrier): signature (64) ‖ leaf index (u32, big-endian) ‖ tree
/// size (u32, big-endian) ‖ audit path (32 bytes per hash, nearest sibling first). That is never
/// 64 bytes long, so the two forms cannot be mistaken for each other.
public struct OrderBatchSeal: Sendable, Equatable {
    public static let domain = "settle-order-batch/v1"
    /// A participant that accepts batch seals says so in the initial metadata of each `Branches`
    /// call it answers; the coordinator signs each order alone for any other.
    public static let acceptanceHeader = "settle-order-seals"
    public static let acceptanceValue = "batch-v1"
    /// The largest tree a seal may claim: its audit path is then at most 16 hashes, so a seal is
    /// never longer than 584 bytes whatever a caller sends.
    public static let leavesMax: UInt32 = 1 << 16
    static let pathHashesMax = leavesMax.trailingZeroBitCount
    static let headerByteCount = Ed25519.signatureByteCount + 8

    public let signature: [UInt8]
    public let index: UInt32
    public let size: UInt32
    public let path: [SHA256Digest]

    public init(signature: [UInt8], index: UInt32, size: UInt32, path: [SHA256Digest]) {
        self.signature = signature
        self.index = index
        self.size = size
        self.path = path
    }

    /// The leaf an order is in a batch: RFC 9162's leaf hash of the message a lone order's
    /// signature would cover, so both forms sign the very same statement.
    public static func leaf(of order: SignedOrder) -> SHA256Digest {
        MerkleHash.leaf(order.signedBytes)
    }

    /// What the coordinator signs: the domain, a NUL, the tree's size and its root.
    public static func signedBytes(root: SHA256Digest, size: UInt32) -> [UInt8] {
        var writer = BigEndianWriter()
        writer.write(domain.utf8)
        writer.write(UInt8(0))
        writer.write(size)
        writer.write(root.bytes)
        return writer.bytes
    }

    /// Signs `orders` as one batch: one seal per order, in order.
    public static func seal(_ orders: [SignedOrder], with key: SigningKey) throws -> [OrderBatchSeal] {
        guard !orders.isEmpty else { return [] }
        guard orders.count <= Int(leavesMax) else { throw OrderBatchTooLarge(orders: orders.count) }
        let tree = MerkleProof.rootAndAllInclusions(in: orders.map(leaf(of:))[...])
        let size = UInt32(orders.count)
        let signature = try key.sign(signedBytes(root: tree.root, size: size))
        return tree.paths.enumerated().map { index, path in
            OrderBatchSeal(signature: signature, index: UInt32(index), size: size, path: path)
        }
    }

    public var encoded: [UInt8] {
        var writer = BigEndianWriter(capacity: Self.headerByteCount + path.count * SHA256Digest.byteCount)
        writer.write(signature)
        writer.write(index)
        writer.write(size)
        for hash in path { writer.write(hash.bytes) }
        return writer.bytes
    }

    /// Nil when `bytes` is not a batch seal (a lone signature, or malformed).
    public init?(encoded bytes: [UInt8]) {
        let header = Self.headerByteCount
        let pathBytes = bytes.count - header
        guard pathBytes >= 0, pathBytes <= Self.pathHashesMax * SHA256Digest.byteCount, pathBytes % SHA256Digest.byteCount == 0 else {
            return nil
        }
        // Every read below is within the length checked above.
        var reader = BigEndianReader(bytes[...])
        let signature = Array(reader.read(count: Ed25519.signatureByteCount))
        let index = reader.read(UInt32.self)
        let size = reader.read(UInt32.self)
        guard size >= 1, size <= Self.leavesMax, index < size else { return nil }
        var path: [SHA256Digest] = []
        while reader.remaining > 0 {
            guard let hash = SHA256Digest(exactly: Array(reader.read(count: SHA256Digest.byteCount))) else { return nil }
            path.append(hash)
        }
        self.init(signature: signature, index: index, size: size, path: path)
    }

    /// The message whose signature this seal carries, if `order` is the leaf its path says; nil
    /// when the path leads nowhere.
    public func signedBytes(for order: SignedOrder) -> [UInt8]? {
        guard let root = MerkleProof.root(ofLeaf: Self.leaf(of: order), index: UInt64(index), size: UInt64(size), path: path) else {
            return nil
        }
        return Self.signedBytes(root: root, size: size)
    }
}

public struct OrderBatchTooLarge: Error, CustomStringConvertible {
    public let orders: Int
    public var description: String { "a batch of \(orders) orders is past \(OrderBatchSeal.leavesMax)" }
}
