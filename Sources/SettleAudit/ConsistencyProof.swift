import SignedLog

/// Proof that the log under a newer signed tree head extends the log under an older one
/// (RFC 9162 §2.1.4): nothing the older head covered was removed or rewritten. An auditor who
/// kept the older head checks it with the public key alone (protocol/receipts.md).
public struct ConsistencyProof: Codable, Sendable, Equatable {
    public static let formatName = "settle-consistency/v1"

    public var format: String
    public var old: TreeHead
    public var new: TreeHead
    public var proof: [String]

    public init(format: String = Self.formatName, old: TreeHead, new: TreeHead, proof: [String]) {
        self.format = format
        self.old = old
        self.new = new
        self.proof = proof
    }

    /// The proof that the log at `directory` extends `old` up to `new` (its latest head when nil).
    /// Throws, naming what happened, when the log no longer holds the tree `old` signed.
    public static func make(from old: TreeHead, to new: TreeHead?, directory: String, keys: LogKeys) throws -> ConsistencyProof {
        for head in [old, new].compactMap({ $0 }) {
            if let problem = head.problem(verifiedWith: keys) { throw AuditError(problem) }
        }
        let (tree, _) = try LogTree.read(directory: directory, keys: keys)
        guard let latest = tree.latestHead.flatMap(TreeHead.init(seal:)) else {
            throw AuditError("the log has no version 2 seal, so no signed tree head")
        }
        let newHead = new ?? latest
        for head in [old, newHead] {
            guard let root = tree.root(size: head.treeSize) else {
                throw AuditError(
                    "the log was truncated: it holds \(tree.leaves.count) records, the head of seal \(head.sealNumber) covers \(head.treeSize)")
            }
            guard root.description == head.rootHash else {
                throw AuditError(
                    "the log was rewritten: its first \(head.treeSize) records no longer hash to the root seal \(head.sealNumber) signed")
            }
        }
        guard old.treeSize <= newHead.treeSize else {
            throw AuditError("the old head covers \(old.treeSize) records, more than the new head's \(newHead.treeSize)")
        }
        guard newHead.treeSize <= UInt64(tree.leaves.count) else {
            throw AuditError("the new head covers \(newHead.treeSize) records, but the log holds \(tree.leaves.count)")
        }
        let path = MerkleProof.consistency(from: Int(old.treeSize), in: tree.leaves[..<Int(newHead.treeSize)])
        return ConsistencyProof(format: formatName, old: old, new: newHead, proof: path.map(\.description))
    }

    /// Throws the first reason this does not prove `new` extends `old`, each head signed by one
    /// of `keys` (the two differ when the log's key rotated between them).
    public func verify(with keys: LogKeys) throws {
        guard format == Self.formatName else { throw AuditError("not a \(Self.formatName) proof: format is \(format)") }
        for (name, head) in [("old", old), ("new", new)] {
            if let problem = head.problem(verifiedWith: keys) { throw AuditError("\(name) head: \(problem)") }
        }
        let path = proof.compactMap(SHA256Digest.init(hex:))
        guard path.count == proof.count, let oldRoot = old.root, let newRoot = new.root,
            MerkleProof.verifyConsistency(oldSize: old.treeSize, oldRoot: oldRoot, newSize: new.treeSize, newRoot: newRoot, proof: path)
        else {
            throw AuditError("the proof does not show that the tree of \(new.treeSize) records extends the tree of \(old.treeSize)")
        }
    }
}
