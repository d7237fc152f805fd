/// The server side of TLS for a Settle endpoint (settled's API, or a participant): the
/// certificate it presents and, optionally, the authority whose client certificates it requires
/// (mutual TLS, on top of the bearer token).
public struct ServerTLS: Codable, Sendable, Hashable {
    /// PEM certificate chain, leaf first.
    public var certificateChain: String
    /// PEM private key of the leaf.
    public var privateKey: String
    /// PEM certificates of the authorities that issue client certificates; when set, a client
    /// without such a certificate cannot connect.
    public var clientCertificateAuthority: String?

    public init(certificateChain: String, privateKey: String, clientCertificateAuthority: String? = nil) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
        self.clientCertificateAuthority = clientCertificateAuthority
    }
}
