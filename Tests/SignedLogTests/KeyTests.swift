import Foundation
import SignedLog
import SettleTestSupport
import Testing

@Suite("Ed25519 keys through OpenSSL")
struct KeyTests {
    @Test func signAndVerify() throws {
        let key = try SigningKey.generate()
        let message = Array("settle".utf8)
        let signature = try key.sign(message)
        #expect(signature.count == 64)
        #expect(key.verifyingKey.isValidSignature(signature, for: message))
        #expect(!key.verifyingKey.isValidSignature(signature, for: Array("settlf".utf8)))
        var tampered = signature
        tampered[10] ^= 0x01
        #expect(!key.verifyingKey.isValidSignature(tampered, for: message))
        #expect(!key.verifyingKey.isValidSignature(signature.dropLast(), for: message))
        let other = try SigningKey.generate()
        #expect(!other.verifyingKey.isValidSignature(signature, for: message))
        #expect(other.verifyingKey.keyID != key.verifyingKey.keyID)
    }

    @Test func pemRoundTripKeepsTheKey() throws {
        let key = try SigningKey.generate()
        let privatePEM = try key.pkcs8PEMBytes()
        let publicPEM = try key.verifyingKey.pemBytes()
        #expect(String(decoding: privatePEM, as: UTF8.self).hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(String(decoding: publicPEM, as: UTF8.self).hasPrefix("-----BEGIN PUBLIC KEY-----"))
        let reloaded = try SigningKey(pem: privatePEM)
        let publicOnly = try VerifyingKey(pem: publicPEM)
        #expect(reloaded.verifyingKey.keyID == key.verifyingKey.keyID)
        #expect(publicOnly.keyID == key.verifyingKey.keyID)
        // The key id is SHA-256 of the DER SubjectPublicKeyInfo: 12 bytes of prefix + 32 of key.
        #expect(publicOnly.derBytes.count == 44)
        #expect(publicOnly.keyID == SHA256Digest(hashing: publicOnly.derBytes))
        let signature = try reloaded.sign([1, 2, 3])
        #expect(publicOnly.isValidSignature(signature, for: [1, 2, 3]))
    }

    @Test func refusesAPrivateKeyOthersCanRead() throws {
        let directory = try TemporaryDirectory()
        let path = directory.subpath("signing-key.pem")
        try PrivateKeyFile.create(path, bytes: SigningKey.generate().pkcs8PEMBytes(), mode: 0o600)
        _ = try SigningKey(pemFile: path)
        chmod(path, 0o400)
        _ = try SigningKey(pemFile: path)
        for mode in [0o640, 0o604, 0o644, 0o660, 0o620, 0o602] as [mode_t] {
            chmod(path, mode)
            let error = #expect(throws: KeyError.self) { try SigningKey(pemFile: path) }
            #expect(error?.description.contains(path) == true)
            #expect(error?.description.contains(String(mode & 0o777, radix: 8)) == true, "\(String(describing: error))")
        }
    }

    @Test func neverOverwritesAKeyFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.subpath("signing-key.pem")
        try PrivateKeyFile.create(path, bytes: Array("first".utf8), mode: 0o600)
        #expect(throws: KeyError.self) { try PrivateKeyFile.create(path, bytes: Array("second".utf8), mode: 0o600) }
        #expect(try readBytes(path) == Array("first".utf8))
    }

    @Test func refusesKeysThatAreNotEd25519() throws {
        let directory = try TemporaryDirectory()
        let path = directory.subpath("rsa.pem")
        try runOpenSSL(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", path])
        let error = #expect(throws: (any Error).self) { try SigningKey(pem: readBytes(path)) }
        #expect("\(error!)".contains("Ed25519"))
        #expect(throws: (any Error).self) { try SigningKey(pem: Array("not a key".utf8)) }
    }

    /// Interoperability both ways with the openssl command line, as an auditor would use it.
    @Test func interoperatesWithTheOpenSSLCommandLine() throws {
        let directory = try TemporaryDirectory()
        let privatePath = directory.subpath("openssl-key.pem")
        let publicPath = directory.subpath("openssl-key.pub.pem")
        try runOpenSSL(["genpkey", "-algorithm", "ed25519", "-out", privatePath])
        chmod(privatePath, 0o600)
        try runOpenSSL(["pkey", "-in", privatePath, "-pubout", "-out", publicPath])
        let key = try SigningKey(pemFile: privatePath)
        #expect(try VerifyingKey(pemFile: publicPath).keyID == key.verifyingKey.keyID)

        let message = Array("seal bytes".utf8)
        try writeBytes(message, to: directory.subpath("message"))
        try writeBytes(key.sign(message), to: directory.subpath("signature"))
        let verified = try runOpenSSL([
            "pkeyutl", "-verify", "-pubin", "-inkey", publicPath, "-rawin",
            "-in", directory.subpath("message"), "-sigfile", directory.subpath("signature"),
        ])
        #expect(verified.contains("Signature Verified Successfully"))

        try runOpenSSL([
            "pkeyutl", "-sign", "-inkey", privatePath, "-rawin", "-in", directory.subpath("message"),
            "-out", directory.subpath("openssl-signature"),
        ])
        #expect(key.verifyingKey.isValidSignature(try readBytes(directory.subpath("openssl-signature")), for: message))
    }
}

@discardableResult
func runOpenSSL(_ arguments: [String], expectSuccess: Bool = true) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    if expectSuccess && process.terminationStatus != 0 {
        throw KeyTestFailure("openssl \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(text)")
    }
    return text
}

struct KeyTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
