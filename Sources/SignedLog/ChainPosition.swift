/// Where the log stands after some prefix: the state every check of the next frame needs, and
/// what a new segment's header records.
struct ChainPosition: Hashable, Sendable {
    var lastLSN: LSN
    var chainHash: SHA256Digest
    var sealNumber: UInt64
    var lastCheckpoint: LSN
    /// The Merkle tree over records 1...lastLSN; nil only while reading from the middle of a log
    /// whose version 1 headers do not record it.
    var tree: MerkleFrontier?
    /// The key that must make the next seal: the last seal's, or the key a rotation sealed since
    /// names. Nil where a reader starts: headers do not record it.
    var keyInForce: KeyID?
    /// The LSN of the last key rotation seen, for messages.
    var keyRotatedAt: LSN?

    static let genesis = ChainPosition(
        lastLSN: .none, chainHash: SegmentHeader.genesisChainHash, sealNumber: 0, lastCheckpoint: .none, tree: .empty
    )

    init(lastLSN: LSN, chainHash: SHA256Digest, sealNumber: UInt64, lastCheckpoint: LSN, tree: MerkleFrontier?) {
        self.lastLSN = lastLSN
        self.chainHash = chainHash
        self.sealNumber = sealNumber
        self.lastCheckpoint = lastCheckpoint
        self.tree = tree
    }

    init(before header: SegmentHeader) {
        self.init(
            lastLSN: LSN(rawValue: header.firstLSN.rawValue - 1), chainHash: header.chainHashBefore,
            sealNumber: header.sealNumberBefore, lastCheckpoint: header.lastCheckpointBefore,
            tree: header.frontierBefore
        )
    }

    /// The header of a segment beginning here, in the current format (so with the tree, which a
    /// writer always knows).
    func header(segmentNumber: UInt64, createdAtNanoseconds: Int64) -> SegmentHeader {
        SegmentHeader(
            segmentNumber: segmentNumber, firstLSN: lastLSN.next, sealNumberBefore: sealNumber,
            lastCheckpointBefore: lastCheckpoint, chainHashBefore: chainHash, createdAtNanoseconds: createdAtNanoseconds,
            frontierBefore: tree
        )
    }

    /// Why a segment with `header` cannot follow the log as it stands here, or nil if it can.
    func continuityProblem(with header: SegmentHeader) -> String? {
        let expected = ChainPosition(before: header)
        if expected.lastLSN != lastLSN {
            return "segment starts at LSN \(header.firstLSN); the log so far ends at LSN \(lastLSN)"
        }
        if expected.sealNumber != sealNumber {
            return "segment follows seal \(header.sealNumberBefore); the log so far ends with seal \(sealNumber)"
        }
        if expected.chainHash != chainHash {
            return "segment's starting chain hash \(header.chainHashBefore) is not the chain so far \(chainHash)"
        }
        if expected.lastCheckpoint != lastCheckpoint {
            return "segment names LSN \(header.lastCheckpointBefore) as the last checkpoint; the log so far says \(lastCheckpoint)"
        }
        if let stated = expected.tree, let known = tree, stated != known {
            return "segment's Merkle frontier (root \(stated.root)) is not the tree so far (root \(known.root))"
        }
        return nil
    }

    /// The position a reader carries into the next segment: the tree as computed, or the header's
    /// when the reader started where the tree was unknown.
    func carried(into header: SegmentHeader) -> ChainPosition {
        var next = ChainPosition(before: header)
        if next.tree == nil { next.tree = tree }
        next.keyInForce = keyInForce
        next.keyRotatedAt = keyRotatedAt
        return next
    }
}
