/// The client side of TLS to a Settle endpoint (settled's API, or a participant): whom to trust,
/// and this client's own certificate when the server requires mutual TLS.
public struct ClientTLS: Codable, Sendable, Hashable {
    /// PEM certificates that verify the server's certificate; nil uses the system's trust roots.
    public var certificateAuthority: String?
    /// This client's PEM certificate chain and private key, for servers that require mutual TLS.
    public var certificateChain: String?
    public var privateKey: String?

    public init(certificateAuthority: String? = nil, certificateChain: String? = nil, privateKey: String? = nil) {
        self.certificateAuthority = certificateAuthority
        self.certificateChain = certificateChain
        self.privateKey = privateKey
    }
}
