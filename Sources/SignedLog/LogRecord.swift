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
}

/// A batch's signature: it vouches for every record up to `lastLSN` through the chain hash.
public struct LogSeal: Sendable, Hashable {
    /// 1 for the first seal of a log, then consecutive: a removed seal leaves a gap.
    public let number: UInt64
    public let lastLSN: LSN
    public let chainHash: SHA256Digest
    public let sealedAtNanoseconds: Int64
    public let keyID: KeyID
    public let signature: [UInt8]

    /// The exact bytes the Ed25519 signature covers: the domain tag, then the seal's fields as
    /// they are stored. `openssl pkeyutl -verify -rawin` checks a signature against these bytes.
    public var signedMessage: [UInt8] {
        var writer = BigEndianWriter(capacity: LogFormat.sealDomainTag.count + LogFormat.sealSignedRange.count)
        writer.write(LogFormat.sealDomainTag)
        writeSignedFields(into: &writer)
        return writer.bytes
    }

    func writeSignedFields(into writer: inout BigEndianWriter) {
        writer.write(number)
        writer.write(lastLSN.rawValue)
        writer.write(chainHash.bytes)
        writer.write(sealedAtNanoseconds)
        writer.write(keyID.bytes)
    }
}
