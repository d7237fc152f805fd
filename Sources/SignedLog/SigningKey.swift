import Foundation
internal import COpenSSL

/// An Ed25519 private key: the coordinator seals each log batch with it.
///
/// `@unchecked Sendable`: as `VerifyingKey`, the EVP_PKEY is immutable once loaded and each
/// signature uses its own context.
public final class SigningKey: @unchecked Sendable {
    private let key: OpaquePointer  // EVP_PKEY *
    private let signingContexts: DigestContexts
    public let verifyingKey: VerifyingKey

    private init(owning key: OpaquePointer) throws {
        guard EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 else {
            EVP_PKEY_free(key)
            throw KeyError("the key is not an Ed25519 key (Settle seals the log with Ed25519)")
        }
        self.key = key
        self.signingContexts = DigestContexts(key: key, purpose: .sign)
        // The public half shares the EVP_PKEY; the VerifyingKey keeps its own reference.
        guard EVP_PKEY_up_ref(key) == 1 else { throw OpenSSLError("EVP_PKEY_up_ref") }
        self.verifyingKey = try VerifyingKey(owning: key)
    }

    deinit { EVP_PKEY_free(key) }

    public static func generate() throws -> SigningKey {
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "ED25519", nil) else {
            throw OpenSSLError("EVP_PKEY_CTX_new_from_name(ED25519)")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1 else { throw OpenSSLError("EVP_PKEY_keygen_init") }
        var key: OpaquePointer?
        guard EVP_PKEY_generate(context, &key) == 1, let key else { throw OpenSSLError("EVP_PKEY_generate") }
        return try SigningKey(owning: key)
    }

    /// Loads an unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY"), as `openssl genpkey -algorithm ed25519` writes it.
    public convenience init(pem: [UInt8]) throws {
        let key = try withMemoryBIO(reading: pem) { bio -> OpaquePointer in
            guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
                throw OpenSSLError("reading a PEM private key")
            }
            return key
        }
        try self.init(owning: key)
    }

    /// Loads the key from `path`, refusing it if group or others have any access to the file, as
    /// ssh does: a signing key others can read lets them forge seals.
    public convenience init(pemFile path: String) throws {
        let pem = try PrivateKeyFile.readOwnerOnly(path)
        do {
            try self.init(pem: pem)
        } catch {
            throw KeyError("\(path) is not an Ed25519 private key in PKCS#8 PEM form: \(error)")
        }
    }

    public func pkcs8PEMBytes() throws -> [UInt8] {
        try bytesWritten(by: "PEM_write_bio_PrivateKey") {
            PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil)
        }
    }

    public func sign(_ message: some Collection<UInt8>) throws -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: Ed25519.signatureByteCount)
        let messageBytes = Array(message)
        let signed = signingContexts.perform { context in
            var length = signature.count
            return EVP_DigestSign(context, &signature, &length, messageBytes, messageBytes.count) == 1
                && length == Ed25519.signatureByteCount
        }
        guard signed else { throw OpenSSLError("EVP_DigestSign") }
        return signature
    }
}
