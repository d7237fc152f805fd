/// Encodes and decodes single frames: `length | CRC-32C | body`, body a record or a seal.
enum FrameCodec {
    /// Encodes a record frame and computes its chain hash from the previous one, and its Merkle
    /// leaf.
    static func encodeRecord(
        lsn: LSN, entry: LogEntry, appendedAtNanoseconds: Int64, previousChainHash: SHA256Digest,
        into frames: inout [UInt8]
    ) -> (record: LogRecord, leaf: SHA256Digest) {
        var body = BigEndianWriter(capacity: LogFormat.recordBodyByteCountMin + entry.payload.count)
        body.write(LogFormat.recordKind)
        body.write(lsn.rawValue)
        body.write(entry.type.rawValue)
        body.write(appendedAtNanoseconds)
        body.write(entry.payload)
        let chainHash = chainHash(previous: previousChainHash, hashedBody: body.bytes[...])
        body.write(chainHash.bytes)
        appendFrame(body: body.bytes, to: &frames)
        let record = LogRecord(
            lsn: lsn, type: entry.type, appendedAtNanoseconds: appendedAtNanoseconds, payload: entry.payload,
            chainHash: chainHash
        )
        return (record, MerkleHash.leaf(body.bytes))
    }

    static func encodeSeal(_ seal: LogSeal, into frames: inout [UInt8]) {
        let byteCount = LogFormat.sealBodyByteCount(version: seal.formatVersion)
        var body = BigEndianWriter(capacity: byteCount)
        body.write(LogFormat.sealKind)
        seal.writeSignedFields(into: &body)
        body.write(seal.signature)
        assert(body.bytes.count == byteCount)
        appendFrame(body: body.bytes, to: &frames)
    }

    /// chain(n) = SHA-256(chain(n-1) ‖ body(n) without its trailing chain hash).
    static func chainHash(previous: SHA256Digest, hashedBody: ArraySlice<UInt8>) -> SHA256Digest {
        var hasher = SHA256Hasher()
        hasher.update(previous.bytes)
        hasher.update(hashedBody)
        return hasher.finalize()
    }

    private static func appendFrame(body: [UInt8], to frames: inout [UInt8]) {
        var prefix = BigEndianWriter(capacity: LogFormat.framePrefixByteCount)
        prefix.write(UInt32(body.count))
        prefix.write(CRC32C.checksum(body))
        frames.append(contentsOf: prefix.bytes)
        frames.append(contentsOf: body)
    }

    enum Decoded {
        /// `body` is the whole frame body: without its last 32 bytes, what the chain hash covers;
        /// whole, the Merkle leaf's data.
        case record(LogRecord, body: ArraySlice<UInt8>, frameByteCount: Int)
        case seal(LogSeal, frameByteCount: Int)
        /// No bytes left: a clean end.
        case end
        case defective(reason: String)
    }

    /// A frame's kind, length and, for a seal, the last LSN it covers and for a record its LSN and
    /// type, read without checking its CRC or copying it: for walking past frames a reader skips.
    /// Nil at the end or at anything that is not a well-framed frame.
    struct Peeked {
        let kind: UInt8
        let frameByteCount: Int
        /// A record's LSN, or the last LSN a seal covers.
        let lsn: LSN
        /// A record's type; nil for a seal.
        let type: RecordType?
    }

    static func peek(_ bytes: [UInt8], at offset: Int) -> Peeked? {
        let fixed = LogFormat.framePrefixByteCount + 1 + 8 + 8
        guard offset >= 0, bytes.count - offset >= fixed else { return nil }
        var prefix = BigEndianReader(bytes[offset..<(offset + fixed)])
        let bodyLength = Int(prefix.read(UInt32.self))
        _ = prefix.read(UInt32.self)
        guard bodyLength >= LogFormat.recordBodyByteCountMin, bodyLength <= LogFormat.recordBodyByteCountMax,
            bytes.count - offset - LogFormat.framePrefixByteCount >= bodyLength
        else { return nil }
        let kind: UInt8 = prefix.read()
        let frameByteCount = LogFormat.framePrefixByteCount + bodyLength
        switch kind {
        case LogFormat.recordKind:
            let lsn = LSN(rawValue: prefix.read())
            return Peeked(kind: kind, frameByteCount: frameByteCount, lsn: lsn, type: RecordType(rawValue: prefix.read()))
        case LogFormat.sealKind:
            _ = prefix.read(UInt64.self)
            return Peeked(kind: kind, frameByteCount: frameByteCount, lsn: LSN(rawValue: prefix.read()), type: nil)
        default:
            return nil
        }
    }

    /// Decodes the frame starting at `offset`, checking framing and CRC but not the chain.
    static func decode(_ bytes: [UInt8], at offset: Int) -> Decoded {
        let remaining = bytes.count - offset
        if remaining == 0 { return .end }
        guard remaining >= LogFormat.framePrefixByteCount else {
            return .defective(reason: "\(remaining) bytes left, too few for a frame's length and CRC")
        }
        var prefix = BigEndianReader(bytes[offset..<(offset + LogFormat.framePrefixByteCount)])
        let bodyLength = Int(prefix.read(UInt32.self))
        let storedCRC: UInt32 = prefix.read()
        guard bodyLength >= LogFormat.recordBodyByteCountMin, bodyLength <= LogFormat.recordBodyByteCountMax else {
            return .defective(
                reason: "frame length \(bodyLength) is outside \(LogFormat.recordBodyByteCountMin)...\(LogFormat.recordBodyByteCountMax)")
        }
        let bodyStart = offset + LogFormat.framePrefixByteCount
        guard bytes.count - bodyStart >= bodyLength else {
            return .defective(reason: "frame length \(bodyLength) runs past the end of the file (\(bytes.count - bodyStart) bytes left)")
        }
        let body = bytes[bodyStart..<(bodyStart + bodyLength)]
        let computedCRC = CRC32C.checksum(body)
        guard computedCRC == storedCRC else {
            return .defective(reason: "CRC-32C mismatch (stored \(hex(storedCRC)), computed \(hex(computedCRC)))")
        }
        let frameByteCount = LogFormat.framePrefixByteCount + bodyLength
        var reader = BigEndianReader(body)
        switch reader.read(UInt8.self) {
        case LogFormat.recordKind:
            // The length check above leaves room for the fixed fields, so this always decodes.
            guard let record = LogRecord(frameBody: body) else {
                return .defective(reason: "record body of \(bodyLength) bytes is too short")
            }
            guard record.lsn.rawValue <= LogFormat.sequenceMax else {
                return .defective(reason: "record LSN \(record.lsn) is above \(LogFormat.sequenceMax)")
            }
            return .record(record, body: body, frameByteCount: frameByteCount)
        case LogFormat.sealKind:
            let hasTreeRoot = bodyLength == LogFormat.sealBodyByteCountVersion2
            guard hasTreeRoot || bodyLength == LogFormat.sealBodyByteCountVersion1 else {
                return .defective(
                    reason:
                        "seal body is \(bodyLength) bytes; a seal is \(LogFormat.sealBodyByteCountVersion1) (version 1) or \(LogFormat.sealBodyByteCountVersion2) (version 2)"
                )
            }
            let seal = LogSeal(
                number: reader.read(),
                lastLSN: LSN(rawValue: reader.read()),
                chainHash: SHA256Digest(bytes: Array(reader.read(count: SHA256Digest.byteCount))),
                treeRoot: hasTreeRoot ? SHA256Digest(bytes: Array(reader.read(count: SHA256Digest.byteCount))) : nil,
                sealedAtNanoseconds: reader.read(),
                keyID: KeyID(bytes: Array(reader.read(count: SHA256Digest.byteCount))),
                signature: Array(reader.read(count: Ed25519.signatureByteCount))
            )
            guard seal.number <= LogFormat.sequenceMax, seal.lastLSN.rawValue <= LogFormat.sequenceMax else {
                return .defective(reason: "seal number or last LSN above \(LogFormat.sequenceMax)")
            }
            return .seal(seal, frameByteCount: frameByteCount)
        case let kind:
            return .defective(reason: "unknown frame kind 0x\(String(kind, radix: 16))")
        }
    }
}
