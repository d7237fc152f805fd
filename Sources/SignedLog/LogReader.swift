#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads sealed records from any LSN, checking every frame as it goes. Safe beside a live writer:
/// it stops at the last seal it finds, so a batch being written is simply not yet visible.
///
/// Blocking: run it on a thread of its own (as `SignedLog.records(from:)` does) or from a
/// command-line tool's main thread.
public struct LogReader: Sendable {
    public let directory: String
    /// Nil reads without checking who signed the seals (everything else is still checked).
    public let keys: LogKeys?

    public init(directory: String, keys: LogKeys?) {
        self.directory = directory
        self.keys = keys
    }

    public init(directory: String, verifyingKey: VerifyingKey?) {
        self.init(directory: directory, keys: verifyingKey.map { LogKeys([$0]) })
    }

    public func forEachRecord(from lsn: LSN, _ body: (LogRecord) throws -> Void) throws {
        try forEachBatch(from: lsn) { records, _ in
            for record in records where record.lsn >= lsn { try body(record) }
        }
    }

    /// Thrown by a `body` that has read enough; it reaches the caller as itself.
    public struct StopReading: Error {
        public init() {}
    }

    /// Calls `body` with each sealed batch whose records reach `lsn` or later, and its seal.
    public func forEachBatch(from lsn: LSN, _ body: ([LogRecord], LogSeal) throws -> Void) throws {
        try forEachBatch(from: lsn, skippingAhead: false, body)
    }

    /// Like `forEachBatch(from:)`, but starts at the seal just before the batch that holds `lsn`
    /// rather than at the start of its segment: the frames before that seal are walked past
    /// unchecked, and from there every record is checked against the chain that seal signed and
    /// every seal against the chain and the keys, but not against the Merkle tree, which only a
    /// reader from the segment's start can compute. For finding one transfer's records in a large
    /// log (the console's timeline) without hashing the whole segment before them.
    public func forEachBatch(near lsn: LSN, _ body: ([LogRecord], LogSeal) throws -> Void) throws {
        try forEachBatch(from: lsn, skippingAhead: true, body)
    }

    private func forEachBatch(from lsn: LSN, skippingAhead: Bool, _ body: ([LogRecord], LogSeal) throws -> Void) throws {
        try SignedLogError.wrapping {
            let segments = try LogLocation(directory).openSource()
            let numbers = try segments.segmentNumbers()
            // The segment holding `lsn` is the last one that starts at or before it.
            var startIndex = 0
            for (index, number) in numbers.enumerated() {
                guard try segments.readHeader(of: number).firstLSN <= lsn else { break }
                startIndex = index
            }
            let scanner = SegmentScanner(keys: keys)
            var expected: ChainPosition?
            for number in numbers[startIndex...] {
                let name = SegmentDirectory.segmentName(number)
                let bytes = try segments.readSegment(number)
                let header = try segments.checkedHeader(bytes, number: number)
                if let expected, let problem = expected.continuityProblem(with: header) {
                    throw SignedLogError.corrupted(
                        segment: name, offset: 0, "header does not continue the log where the previous segment ends: \(problem)"
                    )
                }
                // The first segment's header is where every check starts from: it must be the
                // genesis one, or a log cut at a segment and renumbered would read as whole.
                if number == 0 { try header.checkBeginsTheLog() }
                var start = expected?.carried(into: header)
                var startOffset: Int?
                if skippingAhead, expected == nil, let skip = Self.sealBefore(lsn, in: bytes, header: header) {
                    (start, startOffset) = (skip.position, skip.offset)
                }
                let scan = try scanner.scan(bytes, header: header, start: start, startOffset: startOffset) { records, seal, _ in
                    if seal.lastLSN >= lsn { try body(records, seal) }
                }
                let isLast = number == numbers.last
                switch scan.stop {
                case .cleanEnd: break
                case .unsealedRecords where isLast: break
                case .defect(let offset, _, isCompleteSeal: false)
                where isLast && !scanner.containsValidSeal(bytes, after: offset, segmentVersion: header.formatVersion):
                    break  // a torn or in-progress tail: not yet log content
                case .unsealedRecords(let count):
                    throw SignedLogError.corrupted(
                        segment: name, offset: scan.sealedEndOffset, "\(count) records after the last seal of a closed segment"
                    )
                case .defect(let offset, let reason, _):
                    throw SignedLogError.corrupted(segment: name, offset: offset, reason)
                }
                expected = scan.sealed
            }
        }
    }

    /// The last seal in `bytes` before the batch that holds `lsn`: the offset just past it and the
    /// position it leaves (without the Merkle tree); nil when the batch is the segment's first.
    static func sealBefore(_ lsn: LSN, in bytes: [UInt8], header: SegmentHeader) -> (offset: Int, position: ChainPosition)? {
        guard let found = lastSeal(before: lsn, in: bytes, header: header) else { return nil }
        let seal = found.seal
        let position = ChainPosition(
            lastLSN: seal.lastLSN, chainHash: seal.chainHash, sealNumber: seal.number, lastCheckpoint: found.lastCheckpoint, tree: nil
        )
        return (found.end, position)
    }

    /// The last seal frame in `bytes` before the batch that holds `lsn` (the segment's last seal
    /// when `lsn` lies beyond it), found by the frames' lengths, only that seal's checksum checked;
    /// with the offset just past it and the last checkpoint it seals.
    static func lastSeal(
        before lsn: LSN = LSN(rawValue: .max), in bytes: [UInt8], header: SegmentHeader
    ) -> (seal: LogSeal, end: Int, lastCheckpoint: LSN)? {
        var offset = header.byteCount
        var lastCheckpoint = header.lastCheckpointBefore
        var checkpointAwaitingSeal: LSN?
        var found: (sealOffset: Int, end: Int, lastCheckpoint: LSN)?
        while let frame = FrameCodec.peek(bytes, at: offset) {
            if frame.kind == LogFormat.recordKind {
                if frame.lsn >= lsn { break }
                if frame.type == .checkpoint { checkpointAwaitingSeal = frame.lsn }
            } else {
                if let checkpoint = checkpointAwaitingSeal { lastCheckpoint = checkpoint }
                checkpointAwaitingSeal = nil
                found = (offset, offset + frame.frameByteCount, lastCheckpoint)
            }
            offset += frame.frameByteCount
        }
        guard let found, case .seal(let seal, _) = FrameCodec.decode(bytes, at: found.sealOffset) else { return nil }
        return (seal, found.end, found.lastCheckpoint)
    }
}
