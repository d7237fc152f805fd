/// The constants of the byte format in protocol/recovery-log.md. Change one, change the document
/// and the format version with it.
enum LogFormat {
    static let magic: [UInt8] = Array("SETTLELG".utf8)
    /// What new segments are written in. Version 2 adds the Merkle tree (frontier in the header,
    /// root in every seal); version 1 segments, written before it, stay readable and verifiable.
    static let version: UInt32 = 2
    static let versionsRead: ClosedRange<UInt32> = 1...2

    /// A version 1 header, and a version 2 header whose frontier is empty (segment 0).
    static let segmentHeaderByteCountMin = 96
    /// A version 2 header holds one 32-byte peak per set bit of the LSNs before it: at most 64.
    static let segmentHeaderByteCountMax = segmentHeaderByteCountMin + 64 * SHA256Digest.byteCount
    /// Length and CRC-32C before every frame body.
    static let framePrefixByteCount = 8

    static let recordKind: UInt8 = 0x52  // "R"
    static let sealKind: UInt8 = 0x53  // "S"

    /// Kind, LSN, type, time: the record body before its payload.
    static let recordHeaderByteCount = 1 + 8 + 2 + 8
    static let recordBodyByteCountMin = recordHeaderByteCount + SHA256Digest.byteCount
    /// Version 1: kind, seal number, last LSN, chain hash, time, key id, signature.
    static let sealBodyByteCountVersion1 = 1 + 8 + 8 + 32 + 8 + 32 + Ed25519.signatureByteCount
    /// Version 2 adds the Merkle root after the chain hash.
    static let sealBodyByteCountVersion2 = sealBodyByteCountVersion1 + SHA256Digest.byteCount

    static func sealBodyByteCount(version: UInt32) -> Int {
        version == 1 ? sealBodyByteCountVersion1 : sealBodyByteCountVersion2
    }

    /// Prefixed to the signed bytes so a seal signature can never be mistaken for (or replayed
    /// as) a signature over anything else made with the same key, nor a version 1 seal for a
    /// version 2 one.
    static func sealDomainTag(version: UInt32) -> [UInt8] {
        Array("settle-log-seal-v\(version)".utf8)
    }

    /// A record payload above this is refused at append: it bounds what a reader must buffer and
    /// a checkpoint of the coordinator's largest in-flight set still fits.
    static let recordPayloadBytesMax = 16 << 20
    static let recordBodyByteCountMax = recordBodyByteCountMin + recordPayloadBytesMax

    /// No LSN or seal number comes near this (a log of 2^62 records is beyond any disk); a larger
    /// one in a header or a frame is damage, refused where it is decoded, so that no `+ 1` on
    /// numbers read from the log can overflow.
    static let sequenceMax: UInt64 = 1 << 62

    /// No segment is larger: one closes once a batch leaves it at the size target (64 MiB by
    /// default) and a batch is at most a few records of at most 16 MiB each. Reading refuses a
    /// larger file rather than allocating whatever size the disk reports.
    static let segmentBytesMax = 1 << 30

    static let segmentFileSuffix = ".segment"
    static let segmentNameDigits = 20
}
