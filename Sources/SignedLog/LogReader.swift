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
                let scan = try scanner.scan(bytes, header: header, start: expected?.carried(into: header)) { records, seal, _ in
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
}
