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

    /// Refuses a last segment whose header does not follow the one before it: opening trusts the
    /// last segment's header instead of rescanning history, so it must at least move forward.
    func checkFollowsPrevious(_ header: SegmentHeader, number: UInt64) throws {
        guard number > 0 else { return }
        let previous = try readHeader(of: number - 1)
        guard previous.firstLSN < header.firstLSN, previous.sealNumberBefore < header.sealNumberBefore else {
            throw SignedLogError.corrupted(
                segment: SegmentDirectory.segmentName(number), offset: 0,
                "header does not continue segment \(SegmentDirectory.segmentName(number - 1))"
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
