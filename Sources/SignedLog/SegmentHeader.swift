/// The header that begins a segment: where the chain (and, from version 2, the Merkle tree)
/// stands when the segment begins.
///
/// A segment always begins right after a seal, so `firstLSN`, `sealNumberBefore`,
/// `chainHashBefore` and `frontierBefore` must equal what the log says up to the previous
/// segment's last seal; the verifier checks that, and opening the log trusts the last segment's
/// header instead of rescanning history.
struct SegmentHeader: Hashable, Sendable {
    var formatVersion: UInt32 = LogFormat.version
    var segmentNumber: UInt64
    var firstLSN: LSN
    var sealNumberBefore: UInt64
    /// The LSN of the last sealed checkpoint before this segment, or `.none`.
    var lastCheckpointBefore: LSN
    var chainHashBefore: SHA256Digest
    var createdAtNanoseconds: Int64
    /// The Merkle tree over every record before this segment. Nil in a version 1 header, which
    /// does not record it (except for segment 0, where it is the empty tree).
    var frontierBefore: MerkleFrontier?

    static let genesisChainHash = SHA256Digest(bytes: [UInt8](repeating: 0, count: SHA256Digest.byteCount))

    var byteCount: Int { Self.byteCount(version: formatVersion, peakCount: frontierBefore?.peaks.count ?? 0) }

    static func byteCount(version: UInt32, peakCount: Int) -> Int {
        LogFormat.segmentHeaderByteCountMin + (version == 1 ? 0 : peakCount * SHA256Digest.byteCount)
    }

    /// Throws unless this is the genesis header, the one segment 0 must have: opening and every
    /// reader start their checks from it, and a header is not signed.
    func checkBeginsTheLog() throws {
        if let problem = ChainPosition.genesis.continuityProblem(with: self) {
            throw SignedLogError.corrupted(
                segment: SegmentDirectory.segmentName(segmentNumber), offset: 0, "segment 0 does not begin the log: \(problem)"
            )
        }
    }

    func encoded() -> [UInt8] {
        var writer = BigEndianWriter(capacity: byteCount)
        writer.write(LogFormat.magic)
        writer.write(formatVersion)
        writer.write(UInt32(byteCount))
        writer.write(segmentNumber)
        writer.write(firstLSN.rawValue)
        writer.write(sealNumberBefore)
        writer.write(lastCheckpointBefore.rawValue)
        writer.write(chainHashBefore.bytes)
        writer.write(createdAtNanoseconds)
        let peaks = formatVersion == 1 ? [] : frontierBefore?.peaks ?? []
        writer.write(UInt32(peaks.count))  // version 1: the reserved field, always 0
        for peak in peaks { writer.write(peak.bytes) }
        writer.write(CRC32C.checksum(writer.bytes))
        assert(writer.bytes.count == byteCount)
        return writer.bytes
    }

    /// The header's length as its fixed part states it, to read the rest of a version 2 header;
    /// nil when the fixed part is too short or not a Settle header.
    static func statedByteCount(_ fixedPart: [UInt8]) -> Int? {
        guard fixedPart.count >= 16, Array(fixedPart[0..<8]) == LogFormat.magic else { return nil }
        var reader = BigEndianReader(fixedPart[12..<16])
        let length = Int(reader.read(UInt32.self))
        return (LogFormat.segmentHeaderByteCountMin...LogFormat.segmentHeaderByteCountMax).contains(length) ? length : nil
    }

    /// Decodes and checks a header; the error string says what is wrong, for a corruption report.
    static func decode(_ bytes: [UInt8]) -> Result<SegmentHeader, HeaderDefect> {
        let fixedSize = LogFormat.segmentHeaderByteCountMin
        guard bytes.count >= fixedSize else {
            return .failure(HeaderDefect("segment header is \(bytes.count) bytes; it must be at least \(fixedSize)"))
        }
        var reader = BigEndianReader(bytes[0..<fixedSize])
        guard Array(reader.read(count: 8)) == LogFormat.magic else {
            return .failure(HeaderDefect("not a Settle log segment (bad magic)"))
        }
        let version: UInt32 = reader.read()
        guard LogFormat.versionsRead.contains(version) else {
            return .failure(HeaderDefect("format version \(version); this build reads versions \(LogFormat.versionsRead)"))
        }
        let headerLength = Int(reader.read(UInt32.self))
        var header = SegmentHeader(
            formatVersion: version, segmentNumber: reader.read(), firstLSN: LSN(rawValue: reader.read()),
            sealNumberBefore: reader.read(), lastCheckpointBefore: LSN(rawValue: reader.read()),
            chainHashBefore: SHA256Digest(bytes: Array(reader.read(count: SHA256Digest.byteCount))),
            createdAtNanoseconds: reader.read()
        )
        let peakCount = Int(reader.read(UInt32.self))
        guard version == 1 || peakCount <= 64 else {
            return .failure(HeaderDefect("\(peakCount) Merkle peaks; a tree of 2^64 records has at most 64"))
        }
        let expectedLength = byteCount(version: version, peakCount: peakCount)
        guard headerLength == expectedLength else {
            return .failure(
                HeaderDefect("header length \(headerLength); a version \(version) header with \(peakCount) peaks is \(expectedLength) bytes"))
        }
        guard bytes.count >= headerLength else {
            return .failure(HeaderDefect("segment header is \(bytes.count) bytes; it states \(headerLength)"))
        }
        var peakReader = BigEndianReader(bytes[(fixedSize - 4)..<headerLength])
        let peaks = (0..<(version == 1 ? 0 : peakCount)).map { _ in
            SHA256Digest(bytes: Array(peakReader.read(count: SHA256Digest.byteCount)))
        }
        let storedCRC: UInt32 = peakReader.read()
        let computedCRC = CRC32C.checksum(bytes[0..<(headerLength - 4)])
        guard storedCRC == computedCRC else {
            return .failure(HeaderDefect("segment header CRC-32C mismatch (stored \(hex(storedCRC)), computed \(hex(computedCRC)))"))
        }
        if version == 1 && peakCount != 0 {
            return .failure(HeaderDefect("reserved header field is \(peakCount), not 0"))
        }
        guard header.firstLSN >= .first else { return .failure(HeaderDefect("first LSN is 0")) }
        guard [header.firstLSN.rawValue, header.sealNumberBefore, header.lastCheckpointBefore.rawValue].allSatisfy({ $0 <= LogFormat.sequenceMax })
        else {
            return .failure(HeaderDefect("an LSN or seal number above \(LogFormat.sequenceMax)"))
        }
        let treeSize = header.firstLSN.rawValue - 1
        if version >= 2 {
            guard let frontier = MerkleFrontier(size: treeSize, peaks: peaks) else {
                return .failure(
                    HeaderDefect("\(peakCount) Merkle peaks for \(treeSize) records before the segment; there must be \(treeSize.nonzeroBitCount)"))
            }
            header.frontierBefore = frontier
        } else if treeSize == 0 {
            header.frontierBefore = .empty
        }
        return .success(header)
    }
}

struct HeaderDefect: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16).leftPadded(to: 8) }
