import SignedLog

/// The log's Merkle tree rebuilt from its records, for proofs: every leaf hash and every signed
/// tree head (version 2 seal), read once through `LogReader`, which checks CRCs, the chain,
/// every seal's root and signature as it goes.
///
/// Memory grows with the log (one digest per record): this is an auditor's tool, run on a copy
/// of the log, not part of the coordinator.
public struct LogTree: Sendable {
    public private(set) var leaves: [SHA256Digest] = []
    public private(set) var heads: [LogSeal] = []

    /// - Parameter keep: asked with every record; the records it accepts are returned alongside.
    public static func read(
        directory: String, keys: LogKeys, keeping keep: (LogRecord) -> Bool = { _ in false }
    ) throws -> (tree: LogTree, kept: [LogRecord]) {
        var tree = LogTree()
        var kept: [LogRecord] = []
        try LogReader(directory: directory, keys: keys).forEachBatch(from: .first) { records, seal in
            for record in records {
                tree.leaves.append(record.leafHash)
                if keep(record) { kept.append(record) }
            }
            if seal.treeRoot != nil { tree.heads.append(seal) }
        }
        return (tree, kept)
    }

    public var latestHead: LogSeal? { heads.last }

    /// The root over the first `size` records; nil when the log has fewer.
    public func root(size: UInt64) -> SHA256Digest? {
        guard size <= UInt64(leaves.count) else { return nil }
        return MerkleProof.root(of: leaves[..<Int(size)])
    }
}
