/// The first 96 bytes of a segment: where the chain stands when the segment begins.
///
/// A segment always begins right after a seal, so `firstLSN`, `sealNumberBefore` and
/// `chainHashBefore` must equal what the previous segment's last seal says; the verifier checks
/// that, and opening the log trusts the last segment's header instead of rescanning history.
struct SegmentHeader: Hashable, Sendable {
    var segmentNumber: UInt64
    var firstLSN: LSN
    var sealNumberBefore: UInt64
    /// The LSN of the last sealed checkpoint before this segment, or `.none`.
    var lastCheckpointBefore: LSN
    var chainHashBefore: SHA256Digest
    var createdAtNanoseconds: Int64

    static let genesisChainHash = SHA256Digest(bytes: [UInt8](repeating: 0, count: SHA256Digest.byteCount))

    func encoded() -> [UInt8] {
        var writer = BigEndianWriter(capacity: LogFormat.segmentHeaderByteCount)
        writer.write(LogFormat.magic)
        writer.write(LogFormat.version)
        writer.write(UInt32(LogFormat.segmentHeaderByteCount))
        writer.write(segmentNumber)
        writer.write(firstLSN.rawValue)
        writer.write(sealNumberBefore)
        writer.write(lastCheckpointBefore.rawValue)
        writer.write(chainHashBefore.bytes)
        writer.write(createdAtNanoseconds)
        writer.write(UInt32(0))
        writer.write(CRC32C.checksum(writer.bytes))
        assert(writer.bytes.count == LogFormat.segmentHeaderByteCount)
        return writer.bytes
    }

    /// Decodes and checks a header; the error string says what is wrong, for a corruption report.
    static func decode(_ bytes: [UInt8]) -> Result<SegmentHeader, HeaderDefect> {
        let size = LogFormat.segmentHeaderByteCount
        guard bytes.count >= size else {
            return .failure(HeaderDefect("segment header is \(bytes.count) bytes; it must be \(size)"))
        }
        var reader = BigEndianReader(bytes[0..<size])
        guard Array(reader.read(count: 8)) == LogFormat.magic else {
            return .failure(HeaderDefect("not a Settle log segment (bad magic)"))
        }
        let version: UInt32 = reader.read()
        guard version == LogFormat.version else {
            return .failure(HeaderDefect("format version \(version); this build reads version \(LogFormat.version)"))
        }
        let headerLength: UInt32 = reader.read()
        guard headerLength == UInt32(size) else {
            return .failure(HeaderDefect("header length \(headerLength); version 1 headers are \(size) bytes"))
        }
        let segmentNumber: UInt64 = reader.read()
        let firstLSN = LSN(rawValue: reader.read())
        let sealNumberBefore: UInt64 = reader.read()
        let lastCheckpointBefore = LSN(rawValue: reader.read())
        let chainHashBefore = SHA256Digest(bytes: Array(reader.read(count: SHA256Digest.byteCount)))
        let createdAt: Int64 = reader.read()
        let reserved: UInt32 = reader.read()
        let storedCRC: UInt32 = reader.read()
        let computedCRC = CRC32C.checksum(bytes[0..<(size - 4)])
        guard storedCRC == computedCRC else {
            return .failure(HeaderDefect("segment header CRC-32C mismatch (stored \(hex(storedCRC)), computed \(hex(computedCRC)))"))
        }
        guard reserved == 0 else { return .failure(HeaderDefect("reserved header field is \(reserved), not 0")) }
        guard firstLSN >= .first else { return .failure(HeaderDefect("first LSN is 0")) }
        return .success(
            SegmentHeader(
                segmentNumber: segmentNumber, firstLSN: firstLSN, sealNumberBefore: sealNumberBefore,
                lastCheckpointBefore: lastCheckpointBefore, chainHashBefore: chainHashBefore,
                createdAtNanoseconds: createdAt
            )
        )
    }
}

struct HeaderDefect: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16).leftPadded(to: 8) }
