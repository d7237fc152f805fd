#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a successful audit proved.
public struct AuditSummary: Sendable {
    public var segmentCount = 0
    public var recordCount = 0
    public var sealCount = 0
    public var checkpointCount = 0
    public var byteCount = 0
    public var firstLSN: LSN?
    public var lastLSN: LSN?
    public var firstTimeNanoseconds: Int64?
    public var lastTimeNanoseconds: Int64?
    /// Which key signed from which LSN on: one epoch per key, in order (protocol/recovery-log.md,
    /// "Key epochs").
    public var keyEpochs: [KeyEpoch] = []
    /// Torn tails moved aside by earlier recoveries: kept for forensics, outside the chain.
    public var tornTailFiles: [String] = []
    /// Unsealed bytes at the end, present only when the audit allowed them (a live log).
    public var unsealedTailByteCount = 0
    /// The newest seal: from format version 2 on, the log's signed tree head.
    public var lastSeal: LogSeal?
    /// Whether every seal carries a Merkle root, or the log began before version 2.
    public var formatVersions: Set<UInt32> = []
}

/// A key's period in the log: it made every seal from the batch holding `firstLSN` until the
/// next epoch's.
public struct KeyEpoch: Sendable, Equatable {
    public var firstLSN: LSN
    public var keyID: KeyID
}

/// Checks a whole log with nothing but the public key: every segment header, frame, CRC, LSN,
/// chain hash, seal number and signature, from the genesis to the last seal.
///
/// What it cannot prove alone: that nothing was cut off after the last seal. An auditor who needs
/// that compares the last seal (number, LSN, chain hash) with one recorded elsewhere.
public struct LogAuditor: Sendable {
    public let directory: String
    /// The key the log began with and every key it rotated to that the auditor trusts.
    public let keys: LogKeys
    /// Accept records after the last seal (auditing a live log); otherwise they fail the audit.
    public var allowsUnsealedTail = false

    public init(directory: String, keys: LogKeys) {
        self.directory = directory
        self.keys = keys
    }

    public init(directory: String, verifyingKey: VerifyingKey) {
        self.init(directory: directory, keys: LogKeys([verifyingKey]))
    }

    /// Given several keys, the auditor says the log rotated through them in that order: a log
    /// that does not end signed by the last one may have been rewritten from before a rotation
    /// by whoever held the retired key.
    private func checkEndsOnTheLastKey(_ inForce: KeyID?) throws {
        guard keys.keys.count > 1, let last = keys.keys.last?.keyID, let inForce, inForce != last else { return }
        throw SignedLogError(
            .key,
            "the log ends signed by key id \(inForce), not by the last key given (\(last)): give the keys in the order the "
                + "log rotated through them; a log that never reached the last key may have been rewritten before that rotation"
        )
    }

    /// - Parameter progress: called with bytes checked so far and bytes in all segments.
    public func verify(progress: (Int, Int) -> Void = { _, _ in }) throws -> AuditSummary {
        try SignedLogError.wrapping {
            let location = try LogLocation(directory)
            let segments = try location.openSource()
            let numbers = try segments.segmentNumbers()
            guard !numbers.isEmpty else {
                throw SignedLogError(.corrupted, "\(location) holds no log segment")
            }
            var summary = AuditSummary()
            summary.tornTailFiles = try segments.tornTailFiles()
            let totalByteCount = try segments.totalByteCount(of: numbers)
            let scanner = SegmentScanner(keys: keys)
            var position = ChainPosition.genesis
            progress(0, totalByteCount)
            for number in numbers {
                let name = SegmentDirectory.segmentName(number)
                let bytes = try segments.readSegment(number)
                let header = try segments.checkedHeader(bytes, number: number)
                if let mismatch = position.continuityProblem(with: header) {
                    throw SignedLogError.corrupted(segment: name, offset: 0, mismatch)
                }
                let scan = scanner.scan(bytes, header: header, start: position.carried(into: header)) { records, seal, _ in
                    if summary.firstLSN == nil { summary.firstLSN = records.first?.lsn }
                    for record in records {
                        summary.firstTimeNanoseconds = min(summary.firstTimeNanoseconds ?? .max, record.appendedAtNanoseconds)
                        summary.lastTimeNanoseconds = max(summary.lastTimeNanoseconds ?? .min, record.appendedAtNanoseconds)
                        if record.type == .checkpoint { summary.checkpointCount += 1 }
                    }
                    summary.lastLSN = seal.lastLSN
                    summary.lastSeal = seal
                    if summary.keyEpochs.last?.keyID != seal.keyID, let first = records.first {
                        summary.keyEpochs.append(KeyEpoch(firstLSN: first.lsn, keyID: seal.keyID))
                    }
                }
                summary.segmentCount += 1
                summary.formatVersions.insert(header.formatVersion)
                summary.recordCount += scan.recordCount
                summary.sealCount += scan.sealCount
                summary.byteCount += scan.sealedEndOffset
                let isLast = number == numbers.last
                switch scan.stop {
                case .cleanEnd:
                    break
                case .unsealedRecords(let count):
                    if !(isLast && allowsUnsealedTail) {
                        throw SignedLogError(
                            .unsealedTail, "\(count) records after the last seal are not covered by any seal",
                            segment: name, offset: scan.sealedEndOffset
                        )
                    }
                    summary.unsealedTailByteCount = bytes.count - scan.sealedEndOffset
                case .defect(let offset, let reason, let isCompleteSeal):
                    let isTolerableTail =
                        isLast && allowsUnsealedTail && !isCompleteSeal
                        && !scanner.containsValidSeal(bytes, after: offset, segmentVersion: header.formatVersion)
                    if !isTolerableTail { throw SignedLogError.corrupted(segment: name, offset: offset, reason) }
                    summary.unsealedTailByteCount = bytes.count - scan.sealedEndOffset
                }
                position = scan.sealed
                progress(summary.byteCount + summary.unsealedTailByteCount, totalByteCount)
            }
            try checkEndsOnTheLastKey(position.keyInForce)
            return summary
        }
    }
}
