/// What a caller hands to the log.
public struct LogEntry: Sendable, Hashable {
    public var type: RecordType
    public var payload: [UInt8]

    public init(type: RecordType, payload: [UInt8]) {
        self.type = type
        self.payload = payload
    }
}

/// A record as stored: the entry plus what the log gave it.
public struct LogRecord: Sendable, Hashable {
    public let lsn: LSN
    public let type: RecordType
    /// Wall-clock time the writer took the record, in nanoseconds since the Unix epoch.
    public let appendedAtNanoseconds: Int64
    public let payload: [UInt8]
    /// SHA-256 over the previous record's chain hash and this record's body (see the format).
    public let chainHash: SHA256Digest

    public init(lsn: LSN, type: RecordType, appendedAtNanoseconds: Int64, payload: [UInt8], chainHash: SHA256Digest) {
        self.lsn = lsn
        self.type = type
        self.appendedAtNanoseconds = appendedAtNanoseconds
        self.payload = payload
        self.chainHash = chainHash
    }

    public var entry: LogEntry { LogEntry(type: type, payload: payload) }

    /// The record's frame body exactly as stored: what its CRC covers and its Merkle leaf hashes.
    public var frameBody: [UInt8] {
        var body = BigEndianWriter(capacity: LogFormat.recordBodyByteCountMin + payload.count)
        body.write(LogFormat.recordKind)
        body.write(lsn.rawValue)
        body.write(type.rawValue)
        body.write(appendedAtNanoseconds)
        body.write(payload)
        body.write(chainHash.bytes)
        return body.bytes
    }

    /// The record's leaf in the log's Merkle tree.
    public var leafHash: SHA256Digest { MerkleHash.leaf(frameBody) }

    /// Decodes a record frame body, `frameBody`'s inverse; nil unless it starts with the record
    /// kind and holds at least the fixed fields. Neither framing nor chain is checked here.
    public init?(frameBody body: ArraySlice<UInt8>) {
        guard body.count >= LogFormat.recordBodyByteCountMin, body.first == LogFormat.recordKind else { return nil }
        var reader = BigEndianReader(body)
        _ = reader.read(UInt8.self)
        let lsn = LSN(rawValue: reader.read())
        let type = RecordType(rawValue: reader.read())
        let appendedAt: Int64 = reader.read()
        let payload = Array(reader.read(count: reader.remaining - SHA256Digest.byteCount))
        let chainHash = SHA256Digest(bytes: Array(reader.read(count: SHA256Digest.byteCount)))
        self.init(lsn: lsn, type: type, appendedAtNanoseconds: appendedAt, payload: payload, chainHash: chainHash)
    }
}

/// A batch's signature: it vouches for every record up to `lastLSN` through the chain hash and,
/// from format version 2, through the Merkle root, which makes it a signed tree head (size
/// `lastLSN`, root `treeRoot`, time `sealedAtNanoseconds`).
public struct LogSeal: Sendable, Hashable {
    /// 1 for the first seal of a log, then consecutive: a removed seal leaves a gap.
    public let number: UInt64
    public let lastLSN: LSN
    public let chainHash: SHA256Digest
    /// RFC 9162's root over records 1...lastLSN; nil in a version 1 seal.
    public let treeRoot: SHA256Digest?
    public let sealedAtNanoseconds: Int64
    public let keyID: KeyID
    public let signature: [UInt8]

    public init(
        number: UInt64, lastLSN: LSN, chainHash: SHA256Digest, treeRoot: SHA256Digest?, sealedAtNanoseconds: Int64,
        keyID: KeyID, signature: [UInt8]
    ) {
        self.number = number
        self.lastLSN = lastLSN
        self.chainHash = chainHash
        self.treeRoot = treeRoot
        self.sealedAtNanoseconds = sealedAtNanoseconds
        self.keyID = keyID
        self.signature = signature
    }

    public var formatVersion: UInt32 { treeRoot == nil ? 1 : 2 }

    /// The exact bytes the Ed25519 signature covers: the domain tag of the seal's version, then
    /// the seal's fields as they are stored. `openssl pkeyutl -verify -rawin` checks a signature
    /// against these bytes.
    public var signedMessage: [UInt8] {
        var writer = BigEndianWriter(capacity: 128)
        writer.write(LogFormat.sealDomainTag(version: formatVersion))
        writeSignedFields(into: &writer)
        return writer.bytes
    }

    func writeSignedFields(into writer: inout BigEndianWriter) {
        writer.write(number)
        writer.write(lastLSN.rawValue)
        writer.write(chainHash.bytes)
        if let treeRoot { writer.write(treeRoot.bytes) }
        writer.write(sealedAtNanoseconds)
        writer.write(keyID.bytes)
    }

    /// The same seal carrying `signature`.
    func signed(_ signature: [UInt8]) -> LogSeal {
        LogSeal(
            number: number, lastLSN: lastLSN, chainHash: chainHash, treeRoot: treeRoot,
            sealedAtNanoseconds: sealedAtNanoseconds, keyID: keyID, signature: signature
        )
    }
}
