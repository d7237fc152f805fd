import Foundation
internal import COpenSSL

/// An Ed25519 public key: what an auditor holds to prove the log untouched.
///
/// `@unchecked Sendable`: the EVP_PKEY is never mutated after loading, and each verification uses
/// its own EVP_MD_CTX, which OpenSSL documents as safe across threads.
public final class VerifyingKey: @unchecked Sendable {
    private let key: OpaquePointer  // EVP_PKEY *
    private let verifyingContexts: DigestContexts
    /// The DER SubjectPublicKeyInfo, from which the key id is hashed.
    public let derBytes: [UInt8]
    public let keyID: KeyID

    /// Takes ownership of `key` (one reference).
    init(owning key: OpaquePointer) throws {
        guard EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 else {
            EVP_PKEY_free(key)
            throw KeyError("the key is not an Ed25519 key (Settle seals the log with Ed25519)")
        }
        self.key = key
        self.verifyingContexts = DigestContexts(key: key, purpose: .verify)
        let length = i2d_PUBKEY(key, nil)
        guard length > 0 else { throw OpenSSLError("i2d_PUBKEY") }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_PUBKEY(key, &cursor)
        }
        guard written == length else { throw OpenSSLError("i2d_PUBKEY") }
        self.derBytes = der
        self.keyID = KeyID(hashing: der)
    }

    deinit { EVP_PKEY_free(key) }

    /// Loads a PEM SubjectPublicKeyInfo ("BEGIN PUBLIC KEY"), as `openssl pkey -pubout` writes it.
    public convenience init(pem: [UInt8]) throws {
        let key = try withMemoryBIO(reading: pem) { bio -> OpaquePointer in
            guard let key = PEM_read_bio_PUBKEY(bio, nil, nil, nil) else {
                throw OpenSSLError("reading a PEM public key")
            }
            return key
        }
        try self.init(owning: key)
    }

    /// Loads a DER SubjectPublicKeyInfo, as a key rotation record carries it.
    public convenience init(der: [UInt8]) throws {
        let key = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_PUBKEY(nil, &cursor, buffer.count)
        }
        guard let key else { throw OpenSSLError("reading a DER public key") }
        try self.init(owning: key)
        guard derBytes == der else { throw KeyError("the DER public key is not in its one canonical encoding") }
    }

    public convenience init(pemFile path: String) throws {
        let pem: [UInt8]
        do {
            pem = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw KeyError("cannot read public key file \(path): \(error.localizedDescription)")
        }
        do {
            try self.init(pem: pem)
        } catch {
            throw KeyError("\(path) is not an Ed25519 public key in PEM form: \(error)")
        }
    }

    public func pemBytes() throws -> [UInt8] {
        try bytesWritten(by: "PEM_write_bio_PUBKEY") { PEM_write_bio_PUBKEY($0, key) }
    }

    public func isValidSignature(_ signature: some Collection<UInt8>, for message: some Collection<UInt8>) -> Bool {
        guard signature.count == Ed25519.signatureByteCount else { return false }
        let signatureBytes = Array(signature)
        let messageBytes = Array(message)
        let valid = verifyingContexts.perform { context in
            EVP_DigestVerify(context, signatureBytes, signatureBytes.count, messageBytes, messageBytes.count) == 1
        }
        if !valid { _ = OpenSSLError("EVP_DigestVerify") }  // clear the queue
        return valid
    }
}

public enum Ed25519 {
    public static let signatureByteCount = 64
}

/// A key that cannot be used, with the reason an operator needs to fix it.
public struct KeyError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
