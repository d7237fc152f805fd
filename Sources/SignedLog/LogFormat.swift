/// The constants of the byte format in protocol/recovery-log.md. Change one, change the document
/// and the format version with it.
enum LogFormat {
    static let magic: [UInt8] = Array("SETTLELG".utf8)
    static let version: UInt32 = 1

    static let segmentHeaderByteCount = 96
    /// Length and CRC-32C before every frame body.
    static let framePrefixByteCount = 8

    static let recordKind: UInt8 = 0x52  // "R"
    static let sealKind: UInt8 = 0x53  // "S"

    /// Kind, LSN, type, time: the record body before its payload.
    static let recordHeaderByteCount = 1 + 8 + 2 + 8
    static let recordBodyByteCountMin = recordHeaderByteCount + SHA256Digest.byteCount
    /// Kind, seal number, last LSN, chain hash, time, key id, signature.
    static let sealBodyByteCount = 1 + 8 + 8 + 32 + 8 + 32 + Ed25519.signatureByteCount
    /// The seal body's bytes that the signature covers, after the domain tag: everything but the
    /// kind byte and the signature itself.
    static let sealSignedRange = 1..<(sealBodyByteCount - Ed25519.signatureByteCount)
    /// Prefixed to the signed bytes so a seal signature can never be mistaken for (or replayed
    /// as) a signature over anything else made with the same key.
    static let sealDomainTag: [UInt8] = Array("settle-log-seal-v1".utf8)

    /// A record payload above this is refused at append: it bounds what a reader must buffer and
    /// a checkpoint of the coordinator's largest in-flight set still fits.
    static let recordPayloadBytesMax = 16 << 20
    static let recordBodyByteCountMax = recordBodyByteCountMin + recordPayloadBytesMax

    static let segmentFileSuffix = ".segment"
    static let segmentNameDigits = 20
}
