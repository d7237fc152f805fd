/// Where a log's segments are read from: a directory of files (`SegmentDirectory`) or PostgreSQL
/// tables (`PostgresSegmentSource`). Both hold the same bytes — a segment header followed by
/// its sealed batches' frames — so every check of the log is the same code whatever holds it.
///
/// Blocking: readers run on a thread of their own or a command-line tool's main thread.
protocol SegmentSource {
    /// The segment numbers present, ascending, checked to run from 0 without a gap.
    func segmentNumbers() throws -> [UInt64]
    func readHeader(of number: UInt64) throws -> SegmentHeader
    /// The segment's header and every frame after it.
    func readSegment(_ number: UInt64) throws -> [UInt8]
    /// The sum of every segment's size, for progress.
    func totalByteCount(of numbers: [UInt64]) throws -> Int
    /// Torn tails kept for forensics (files only: a PostgreSQL batch commits whole or not at all).
    func tornTailFiles() throws -> [String]
}

extension SegmentSource {
    func checkedHeader(_ bytes: [UInt8], number: UInt64) throws -> SegmentHeader {
        switch SegmentHeader.decode(bytes) {
        case .failure(let defect):
            throw SignedLogError.corrupted(segment: SegmentDirectory.segmentName(number), offset: 0, defect.reason)
        case .success(let header):
            guard header.segmentNumber == number else {
                throw SignedLogError.corrupted(
                    segment: SegmentDirectory.segmentName(number), offset: 0,
                    "header says segment \(header.segmentNumber); its storage says \(number)"
                )
            }
            return header
        }
    }

    /// Refuses a last segment whose header does not continue the log. Opening trusts the last
    /// segment's header instead of rescanning history, and a header is not signed: one that
    /// invented records would have the writer seal, and sign tree heads, on top of them. So
    /// segment 0's header must be the genesis one, and a later one must repeat what the previous
    /// segment's last seal signed (its LSN, seal number, chain hash and tree root).
    func checkContinues(_ header: SegmentHeader, number: UInt64, keys: LogKeys) throws {
        let name = SegmentDirectory.segmentName(number)
        guard number > 0 else { return try header.checkBeginsTheLog() }
        let previousName = SegmentDirectory.segmentName(number - 1)
        let previousBytes = try readSegment(number - 1)
        let previousHeader = try checkedHeader(previousBytes, number: number - 1)
        guard let seal = LogReader.lastSeal(in: previousBytes, header: previousHeader)?.seal else {
            throw SignedLogError.corrupted(segment: previousName, offset: 0, "a segment followed by another ends with no seal")
        }
        guard keys.key(for: seal.keyID) != nil else {
            throw SignedLogError(
                .key,
                "segment \(previousName) ends with a seal by key \(seal.keyID), which is not among the keys given: "
                    + "give the keys the log was signed with before its last rotation (previousPublicKeys)",
                segment: previousName
            )
        }
        guard keys.verifies(seal.signature, for: seal.signedMessage, by: seal.keyID) else {
            throw SignedLogError.corrupted(segment: previousName, offset: 0, "its last seal (\(seal.number)) does not verify")
        }
        let sealed = ChainPosition(
            lastLSN: seal.lastLSN, chainHash: seal.chainHash, sealNumber: seal.number, lastCheckpoint: header.lastCheckpointBefore,
            tree: nil
        )
        let stated = ChainPosition(before: header)
        let treeDiffers = seal.treeRoot.map { root in stated.tree.map { $0.root != root } ?? false } ?? false
        if let problem = sealed.continuityProblem(with: header) ?? (treeDiffers ? "its Merkle frontier is not the tree that seal signed" : nil) {
            throw SignedLogError.corrupted(
                segment: name, offset: 0, "header does not continue segment \(previousName)'s last seal \(seal.number): \(problem)"
            )
        }
    }

    /// Refuses a gap: a missing segment is missing history.
    static func checkedContiguous(_ numbers: [UInt64], in place: String) throws -> [UInt64] {
        let sorted = numbers.sorted()
        for (expected, number) in sorted.enumerated() where number != UInt64(expected) {
            throw SignedLogError(
                .corrupted, "segment \(SegmentDirectory.segmentName(UInt64(expected))) is missing from \(place)",
                segment: SegmentDirectory.segmentName(UInt64(expected))
            )
        }
        return sorted
    }
}
