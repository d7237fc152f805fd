/// Where the chain stands after some prefix of the log: the state every check of the next frame
/// needs, and what a new segment's header records.
struct ChainPosition: Hashable, Sendable {
    var lastLSN: LSN
    var chainHash: SHA256Digest
    var sealNumber: UInt64
    var lastCheckpoint: LSN

    static let genesis = ChainPosition(
        lastLSN: .none, chainHash: SegmentHeader.genesisChainHash, sealNumber: 0, lastCheckpoint: .none
    )

    init(lastLSN: LSN, chainHash: SHA256Digest, sealNumber: UInt64, lastCheckpoint: LSN) {
        self.lastLSN = lastLSN
        self.chainHash = chainHash
        self.sealNumber = sealNumber
        self.lastCheckpoint = lastCheckpoint
    }

    init(before header: SegmentHeader) {
        self.init(
            lastLSN: LSN(rawValue: header.firstLSN.rawValue - 1), chainHash: header.chainHashBefore,
            sealNumber: header.sealNumberBefore, lastCheckpoint: header.lastCheckpointBefore
        )
    }

    func header(segmentNumber: UInt64, createdAtNanoseconds: Int64) -> SegmentHeader {
        SegmentHeader(
            segmentNumber: segmentNumber, firstLSN: lastLSN.next, sealNumberBefore: sealNumber,
            lastCheckpointBefore: lastCheckpoint, chainHashBefore: chainHash, createdAtNanoseconds: createdAtNanoseconds
        )
    }
}
