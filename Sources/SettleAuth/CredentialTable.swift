/// The credentials a server accepts, each naming one caller: SHA-256 digests of bearer tokens,
/// and common names of client certificates (checked against the server's client authority by
/// mutual TLS before any call arrives).
public struct CredentialTable: Sendable {
    private var tokens: [(digest: [UInt8], name: String)] = []
    var commonNames: [String: String] = [:]

    public init() {}

    public mutating func addToken(digest: [UInt8], name: String) { tokens.append((digest, name)) }
    public mutating func addCertificate(commonName: String, name: String) { commonNames[commonName] = name }

    /// Every digest is compared, so the time taken does not say which one was close.
    public func name(forToken token: String) -> String? {
        let presented = TokenSource.digest(ofToken: token)
        var found: String?
        for entry in tokens where constantTimeEqual(presented, entry.digest) { found = entry.name }
        return found
    }

    public var isEmpty: Bool { tokens.isEmpty && commonNames.isEmpty }
}

/// Compares without an early exit, so the time taken does not reveal how much of a guess matched.
public func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    var difference: UInt8 = lhs.count == rhs.count ? 0 : 1
    for index in 0..<max(lhs.count, rhs.count) {
        difference |= (index < lhs.count ? lhs[index] : 0) ^ (index < rhs.count ? rhs[index] : 0)
    }
    return difference == 0
}
