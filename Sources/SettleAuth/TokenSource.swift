import Foundation
import SignedLog

/// Where a bearer token comes from, as a configuration names it: its SHA-256 (enough to check a
/// token presented to us), a file readable by its owner only, an environment variable, or —
/// only where the configuration allows it and then makes the whole file secret — inline.
public struct TokenSource: Codable, Sendable, Hashable {
    public var token: String?
    /// Lower-case hex of SHA-256 over the token's UTF-8 bytes.
    public var tokenSHA256: String?
    public var tokenFile: String?
    public var tokenEnvironment: String?

    /// Shortest token accepted from a file, the environment or inline: 128 bits of base64.
    public static let tokenBytesMin = 16

    public init(token: String? = nil, tokenSHA256: String? = nil, tokenFile: String? = nil, tokenEnvironment: String? = nil) {
        self.token = token
        self.tokenSHA256 = tokenSHA256
        self.tokenFile = tokenFile
        self.tokenEnvironment = tokenEnvironment
    }

    private var givenCount: Int { [token, tokenSHA256, tokenFile, tokenEnvironment].compactMap { $0 }.count }
    public var isGiven: Bool { givenCount > 0 }

    /// The token itself, for the side that presents it (never from a hash).
    public func secret(for owner: String) throws -> String {
        guard givenCount == 1 else {
            throw CredentialError("\(owner): give exactly one of token, tokenFile or tokenEnvironment")
        }
        let value: String
        if let token {
            value = token
        } else if let tokenFile {
            let bytes = try PrivateKeyFile.readOwnerOnly(tokenFile)
            value = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        } else if let tokenEnvironment {
            guard let fromEnvironment = ProcessInfo.processInfo.environment[tokenEnvironment] else {
                throw CredentialError("\(owner): the environment variable \(tokenEnvironment) is not set")
            }
            value = fromEnvironment
        } else {
            throw CredentialError("\(owner): a tokenSHA256 can check a token but not present one; give tokenFile or tokenEnvironment")
        }
        guard value.utf8.count >= Self.tokenBytesMin else {
            throw CredentialError("\(owner): the token must be at least \(Self.tokenBytesMin) bytes")
        }
        return value
    }

    /// SHA-256 of the token, for the side that checks it. An inline token is refused when
    /// `allowingInline` is false: such credentials must never sit in a file in the clear.
    public func digest(for owner: String, allowingInline: Bool) throws -> [UInt8] {
        guard givenCount == 1 else {
            throw CredentialError("\(owner): give exactly one of tokenSHA256, tokenFile or tokenEnvironment")
        }
        if token != nil && !allowingInline {
            throw CredentialError(
                "\(owner): an inline token is not accepted here; give its tokenSHA256, a tokenFile (mode 0600) or a tokenEnvironment"
            )
        }
        if let tokenSHA256 {
            // Either case in a configuration file: people paste digests from sha256sum or elsewhere.
            guard let bytes = hexDecoded(tokenSHA256.lowercased()), bytes.count == SHA256Digest.byteCount else {
                throw CredentialError("\(owner): tokenSHA256 must be 64 hex digits")
            }
            return bytes
        }
        return Self.digest(ofToken: try secret(for: owner))
    }

    public static func digest(ofToken token: String) -> [UInt8] {
        SHA256Digest(hashing: Array(token.utf8)).bytes
    }

    /// What a configuration's `tokenSHA256` holds for `token`.
    public static func hexDigest(ofToken token: String) -> String {
        hexEncoded(digest(ofToken: token))
    }
}

public struct CredentialError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
