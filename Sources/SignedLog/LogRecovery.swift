#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An opened log, ready for its writer: where appends go, and where the chain stands.
struct RecoveredLog {
    let sink: any SegmentSink
    let position: ChainPosition
    let report: LogOpenReport
    /// The last seal of the last segment; nil when that segment holds none yet.
    let lastSeal: LogSeal?
}

/// What opening found and did, for the caller to log.
public struct LogOpenReport: Sendable {
    public let segmentCount: Int
    public let lastSealedLSN: LSN
    public let lastCheckpointLSN: LSN?
    /// The file the torn tail was moved to, if there was one.
    public let tornTailFile: String?
    public let tornTailByteCount: Int
    /// Set when the log ended in a format version 1 segment: the Merkle tree was computed from
    /// the whole log once, and appends continue in a version 2 segment.
    public let upgradedFromVersion1: Bool
}

/// Opens a log directory for appending: checks the last segment frame by frame and moves an
/// unsealed tail aside.
///
/// Only the last segment is rescanned: earlier segments were sealed and fsynced before the
/// next one was created, and never change again, so the last segment's header carries the chain
/// forward. This keeps start-up time independent of the log's age; the whole history is checked
/// by `settle audit verify`.
struct LogRecovery {
    let directory: SegmentDirectory
    /// The writer's key and the keys of earlier epochs.
    let keys: LogKeys
    let signingKeyID: KeyID
    let nowNanoseconds: @Sendable () -> Int64

    /// What the file-specific part of opening found, before the writer takes the segment over.
    private struct Recovered {
        var segmentNumber: UInt64
        var segmentDescriptor: Int32
        var segmentByteCount: Int
        var position: ChainPosition
        var report: LogOpenReport
        var lastSeal: LogSeal?
    }

    func recover(configuration: SignedLogConfiguration) throws -> RecoveredLog {
        let recovered = try recoverLastSegment()
        return RecoveredLog(
            sink: FileSegmentSink(
                directory: directory, segmentNumber: recovered.segmentNumber, descriptor: recovered.segmentDescriptor,
                byteCount: recovered.segmentByteCount, configuration: configuration
            ),
            position: recovered.position, report: recovered.report, lastSeal: recovered.lastSeal
        )
    }

    private func recoverLastSegment() throws -> Recovered {
        try directory.removeUnfinishedCreations()
        var numbers = try directory.segmentNumbers()
        if numbers.isEmpty {
            let descriptor = try directory.createSegment(
                ChainPosition.genesis.header(segmentNumber: 0, createdAtNanoseconds: nowNanoseconds())
            )
            close(descriptor)
            numbers = [0]
        }
        let lastNumber = numbers[numbers.count - 1]
        let segmentName = SegmentDirectory.segmentName(lastNumber)
        let segmentPath = directory.segmentPath(lastNumber)
        let descriptor = try FileDescriptorIO.openFile(segmentPath, flags: O_RDWR)
        do {
            let bytes = try FileDescriptorIO.readAll(descriptor, path: segmentPath, bytesMax: LogFormat.segmentBytesMax)
            let header = try directory.checkedHeader(bytes, number: lastNumber)
            try directory.checkContinues(header, number: lastNumber, keys: keys)
            let scanner = SegmentScanner(keys: keys)
            var lastSeal: LogSeal?
            let scan = scanner.scan(bytes, header: header) { _, seal, _ in lastSeal = seal }
            if case .defect(let offset, let reason, let isCompleteSeal) = scan.stop,
                isCompleteSeal || scanner.containsValidSeal(bytes, after: offset, segmentVersion: header.formatVersion)
            {
                throw SignedLogError.corrupted(
                    segment: segmentName, offset: offset,
                    reason + (isCompleteSeal ? "" : "; a valid seal follows, so this is damage, not a torn tail")
                )
            }
            try Self.checkKeyInForce(scan.sealed.keyInForce, lastSegment: lastNumber, source: directory, signingKeyID: signingKeyID)
            var tornTailFile: String?
            let tornTailByteCount = bytes.count - scan.sealedEndOffset
            if tornTailByteCount > 0 {
                tornTailFile = try moveTailAside(
                    bytes[scan.sealedEndOffset...], segmentPath: segmentPath, descriptor: descriptor,
                    sealedEndOffset: scan.sealedEndOffset
                )
            }
            var recovered = Recovered(
                segmentNumber: lastNumber, segmentDescriptor: descriptor, segmentByteCount: scan.sealedEndOffset,
                position: scan.sealed,
                report: LogOpenReport(
                    segmentCount: numbers.count, lastSealedLSN: scan.sealed.lastLSN,
                    lastCheckpointLSN: scan.sealed.lastCheckpoint == .none ? nil : scan.sealed.lastCheckpoint,
                    tornTailFile: tornTailFile, tornTailByteCount: tornTailByteCount,
                    upgradedFromVersion1: header.formatVersion == 1
                ),
                lastSeal: lastSeal
            )
            if header.formatVersion == 1 {
                try continueInCurrentFormat(&recovered, replacingEmptySegment: scan.sealCount == 0)
            }
            return recovered
        } catch {
            close(descriptor)
            throw error
        }
    }

    /// A log written before version 2 has no Merkle frontier in its headers: compute the tree from
    /// every record once, then append in a version 2 segment whose header records it. A last
    /// segment with no records is replaced rather than followed, since segments must advance.
    private func continueInCurrentFormat(_ recovered: inout Recovered, replacingEmptySegment: Bool) throws {
        var tree = MerkleFrontier.empty
        try LogReader(directory: directory.path, keys: keys).forEachRecord(from: .first) { record in
            tree.append(leaf: record.leafHash)
        }
        guard tree.size == recovered.position.lastLSN.rawValue else {
            throw SignedLogError(
                .corrupted, "the log's records give a tree of \(tree.size) leaves, but it ends at LSN \(recovered.position.lastLSN)"
            )
        }
        recovered.position.tree = tree
        let number = replacingEmptySegment ? recovered.segmentNumber : recovered.segmentNumber + 1
        let header = recovered.position.header(segmentNumber: number, createdAtNanoseconds: nowNanoseconds())
        let descriptor = try directory.createSegment(header)
        close(recovered.segmentDescriptor)
        recovered.segmentDescriptor = descriptor
        recovered.segmentNumber = number
        recovered.segmentByteCount = header.byteCount
    }

    /// Refuses to extend a log with a key that is not the one in force at its end: its seals
    /// would fail every audit. The key in force is the last seal's, or a sealed rotation's new
    /// key; a last segment without seals (the one a rotation begins) defers to the one before.
    static func checkKeyInForce(_ found: KeyID?, lastSegment: UInt64, source: any SegmentSource, signingKeyID: KeyID) throws {
        // Earlier segments' signatures were checked when they were written; this only looks for
        // whose seal came last.
        let scanner = SegmentScanner(keys: nil)
        var inForce = found
        var number = lastSegment
        while inForce == nil && number > 0 {
            number -= 1
            let bytes = try source.readSegment(number)
            inForce = try scanner.scan(bytes, header: try source.checkedHeader(bytes, number: number)).sealed.keyInForce
        }
        guard let inForce, inForce != signingKeyID else { return }
        throw SignedLogError(
            .key,
            "the log is signed by key id \(inForce) from its last seal on, not by this signing key (key id \(signingKeyID)); "
                + "after a rotation, configure the key the log rotated to"
        )
    }

    /// Keeps the unsealed bytes for forensics (never trusted, never replayed), then cuts the
    /// segment back to its last seal. The copy is durable before the cut.
    private func moveTailAside(
        _ tail: ArraySlice<UInt8>, segmentPath: String, descriptor: Int32, sealedEndOffset: Int
    ) throws -> String {
        let tornPath = "\(segmentPath).torn-\(nowNanoseconds())"
        let tornDescriptor = try FileDescriptorIO.openFile(tornPath, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o640)
        defer { close(tornDescriptor) }
        try FileDescriptorIO.writeAll(tornDescriptor, Array(tail), at: 0, path: tornPath)
        try FileDescriptorIO.syncAll(tornDescriptor, path: tornPath)
        try FileDescriptorIO.syncDirectory(directory.path)
        try FileDescriptorIO.truncate(descriptor, to: sealedEndOffset, path: segmentPath)
        try FileDescriptorIO.syncAll(descriptor, path: segmentPath)
        return tornPath
    }
}
