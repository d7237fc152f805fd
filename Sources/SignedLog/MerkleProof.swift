/// Inclusion and consistency proofs over the log's Merkle tree, as RFC 9162 §2.1.3 and §2.1.4
/// define them (generation from the leaf hashes, verification from the proof alone).
///
/// Generation recomputes subtree roots from the leaves, O(n) hashes per proof: it runs in the
/// audit tools, over a log read once, never on the coordinator's path.
public enum MerkleProof {
    /// RFC 9162's MTH over `leaves`.
    public static func root(of leaves: ArraySlice<SHA256Digest>) -> SHA256Digest {
        switch leaves.count {
        case 0: return MerkleHash.emptyRoot
        case 1: return leaves[leaves.startIndex]
        default:
            let split = leaves.startIndex + largestPowerOfTwo(below: leaves.count)
            return MerkleHash.node(root(of: leaves[..<split]), root(of: leaves[split...]))
        }
    }

    /// The audit path of leaf `index` in the tree over `leaves`, nearest sibling first.
    public static func inclusion(of index: Int, in leaves: ArraySlice<SHA256Digest>) -> [SHA256Digest] {
        guard leaves.count > 1 else { return [] }
        let split = largestPowerOfTwo(below: leaves.count)
        let middle = leaves.startIndex + split
        if index < split {
            return inclusion(of: index, in: leaves[..<middle]) + [root(of: leaves[middle...])]
        }
        return inclusion(of: index - split, in: leaves[middle...]) + [root(of: leaves[..<middle])]
    }

    /// The root of the tree over `leaves` and the audit path of every leaf, in O(n log n) hashes
    /// where `inclusion(of:in:)` for each leaf would take O(n²): for signing a batch, on the
    /// coordinator's path.
    public static func rootAndAllInclusions(in leaves: ArraySlice<SHA256Digest>) -> (root: SHA256Digest, paths: [[SHA256Digest]]) {
        switch leaves.count {
        case 0: return (MerkleHash.emptyRoot, [])
        case 1: return (leaves[leaves.startIndex], [[]])
        default:
            let middle = leaves.startIndex + largestPowerOfTwo(below: leaves.count)
            let left = rootAndAllInclusions(in: leaves[..<middle])
            let right = rootAndAllInclusions(in: leaves[middle...])
            let paths = left.paths.map { $0 + [right.root] } + right.paths.map { $0 + [left.root] }
            return (MerkleHash.node(left.root, right.root), paths)
        }
    }

    /// The proof that the tree over the first `oldSize` leaves is a prefix of the tree over all
    /// of `leaves`.
    public static func consistency(from oldSize: Int, in leaves: ArraySlice<SHA256Digest>) -> [SHA256Digest] {
        guard oldSize > 0, oldSize < leaves.count else { return [] }
        return subproof(oldSize, leaves, oldIsWholeSubtree: true)
    }

    private static func subproof(_ size: Int, _ leaves: ArraySlice<SHA256Digest>, oldIsWholeSubtree: Bool) -> [SHA256Digest] {
        if size == leaves.count { return oldIsWholeSubtree ? [] : [root(of: leaves)] }
        let split = largestPowerOfTwo(below: leaves.count)
        let middle = leaves.startIndex + split
        if size <= split {
            return subproof(size, leaves[..<middle], oldIsWholeSubtree: oldIsWholeSubtree) + [root(of: leaves[middle...])]
        }
        return subproof(size - split, leaves[middle...], oldIsWholeSubtree: false) + [root(of: leaves[..<middle])]
    }

    /// RFC 9162 §2.1.3.2: whether `path` proves `leaf` is leaf `index` of the tree of `size`
    /// leaves with root `root`.
    public static func verifyInclusion(
        leaf: SHA256Digest, index: UInt64, size: UInt64, path: [SHA256Digest], root: SHA256Digest
    ) -> Bool {
        self.root(ofLeaf: leaf, index: index, size: size, path: path) == root
    }

    /// The root that `path` leads to from `leaf`, leaf `index` of a tree of `size` leaves; nil
    /// when the path cannot be an audit path of that leaf (too long, too short, index past the
    /// end). RFC 9162 §2.1.3.2 without its final comparison, so that a root can be checked by a
    /// signature instead of against a known root.
    public static func root(ofLeaf leaf: SHA256Digest, index: UInt64, size: UInt64, path: [SHA256Digest]) -> SHA256Digest? {
        guard index < size else { return nil }
        var fn = index
        var sn = size - 1
        var computed = leaf
        for sibling in path {
            guard sn != 0 else { return nil }
            if fn & 1 == 1 || fn == sn {
                computed = MerkleHash.node(sibling, computed)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                computed = MerkleHash.node(computed, sibling)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 ? computed : nil
    }

    /// RFC 9162 §2.1.4.2: whether `proof` shows the tree of `oldSize` leaves with root `oldRoot`
    /// is a prefix of the tree of `newSize` leaves with root `newRoot`.
    public static func verifyConsistency(
        oldSize: UInt64, oldRoot: SHA256Digest, newSize: UInt64, newRoot: SHA256Digest, proof: [SHA256Digest]
    ) -> Bool {
        guard oldSize <= newSize else { return false }
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        // The empty tree is a prefix of every tree; nothing to prove.
        if oldSize == 0 { return proof.isEmpty && oldRoot == MerkleHash.emptyRoot }
        var path = proof
        if oldSize.nonzeroBitCount == 1 { path.insert(oldRoot, at: 0) }
        guard let first = path.first else { return false }
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var oldComputed = first
        var newComputed = first
        for node in path.dropFirst() {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                oldComputed = MerkleHash.node(node, oldComputed)
                newComputed = MerkleHash.node(node, newComputed)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                newComputed = MerkleHash.node(newComputed, node)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && oldComputed == oldRoot && newComputed == newRoot
    }

    static func largestPowerOfTwo(below count: Int) -> Int {
        precondition(count > 1, "a split needs at least two leaves")
        return 1 << (Int.bitWidth - 1 - (count - 1).leadingZeroBitCount)
    }
}
