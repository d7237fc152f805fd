internal import COpenSSL

/// SHA-256 through OpenSSL's EVP interface: the hash of the log's chain and of key ids.
public struct SHA256Digest: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 32
    public let bytes: [UInt8]

    public init(hashing data: some Collection<UInt8>) {
        var hasher = SHA256Hasher()
        hasher.update(data)
        self = hasher.finalize()
    }

    /// Nil unless `bytes` is exactly 32 bytes: for digests read from outside (receipts, proofs).
    public init?(exactly bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    /// Nil unless `hex` is 64 hexadecimal digits.
    public init?(hex: String) {
        guard let bytes = hexDecoded(hex) else { return nil }
        self.init(exactly: bytes)
    }

    init(bytes: [UInt8]) {
        precondition(bytes.count == Self.byteCount, "a SHA-256 digest is 32 bytes, not \(bytes.count)")
        self.bytes = bytes
    }

    public var description: String { hexEncoded(bytes) }
}

/// SHA-256 fetched from OpenSSL's provider once. `EVP_sha256()` would make every digest
/// initialisation fetch it again (a locked lookup in OpenSSL 3), which cost more than hashing a
/// record: the log hashes each record twice (chain and Merkle leaf) on its one writer thread.
/// Never freed; an EVP_MD is immutable and safe to share across threads.
nonisolated(unsafe) private let fetchedSHA256: OpaquePointer = {
    guard let digest = EVP_MD_fetch(nil, "SHA256", nil) else { fatalError("OpenSSL has no SHA-256") }
    return digest
}()

/// Incremental SHA-256, for hashing a record's pieces without first concatenating them.
public struct SHA256Hasher: ~Copyable {
    private let context: OpaquePointer  // EVP_MD_CTX *

    public init() {
        guard let context = EVP_MD_CTX_new() else { fatalError("OpenSSL could not allocate a digest context") }
        // EVP_sha256 cannot fail to initialise short of memory exhaustion; a failure here is a broken OpenSSL.
        precondition(EVP_DigestInit_ex(context, fetchedSHA256, nil) == 1, "EVP_DigestInit_ex(SHA-256) failed")
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    public mutating func update(_ data: some Collection<UInt8>) {
        let updated =
            data.withContiguousStorageIfAvailable { buffer in
                EVP_DigestUpdate(context, buffer.baseAddress, buffer.count)
            } ?? Array(data).withUnsafeBufferPointer { EVP_DigestUpdate(context, $0.baseAddress, $0.count) }
        precondition(updated == 1, "EVP_DigestUpdate failed")
    }

    public consuming func finalize() -> SHA256Digest {
        var output = [UInt8](repeating: 0, count: SHA256Digest.byteCount)
        var length: UInt32 = 0
        precondition(EVP_DigestFinal_ex(context, &output, &length) == 1, "EVP_DigestFinal_ex failed")
        precondition(length == UInt32(SHA256Digest.byteCount), "SHA-256 produced \(length) bytes")
        return SHA256Digest(bytes: output)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
