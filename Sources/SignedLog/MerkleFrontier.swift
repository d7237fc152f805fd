/// The right edge of the log's Merkle tree: the roots of the perfect subtrees that the binary
/// decomposition of the leaf count gives, largest (leftmost) first. It is all a writer needs to
/// append a leaf and compute the root, in O(log n) space, and what a segment header stores so
/// opening a log never rereads history.
public struct MerkleFrontier: Hashable, Sendable {
    public private(set) var size: UInt64
    /// One root per set bit of `size`, from the highest bit down.
    public private(set) var peaks: [SHA256Digest]

    public static let empty = MerkleFrontier(uncheckedSize: 0, peaks: [])

    private init(uncheckedSize size: UInt64, peaks: [SHA256Digest]) {
        self.size = size
        self.peaks = peaks
    }

    /// Nil unless there is exactly one peak per set bit of `size`.
    public init?(size: UInt64, peaks: [SHA256Digest]) {
        guard peaks.count == size.nonzeroBitCount else { return nil }
        self.init(uncheckedSize: size, peaks: peaks)
    }

    public mutating func append(leaf: SHA256Digest) {
        var merged = leaf
        var carry = size
        // Each trailing one bit of the old size is a peak of the same height as `merged`.
        while carry & 1 == 1 {
            merged = MerkleHash.node(peaks.removeLast(), merged)
            carry >>= 1
        }
        peaks.append(merged)
        size += 1
    }

    /// RFC 9162's MTH over every leaf appended so far.
    public var root: SHA256Digest {
        guard var root = peaks.last else { return MerkleHash.emptyRoot }
        for peak in peaks.dropLast().reversed() { root = MerkleHash.node(peak, root) }
        return root
    }
}
