import GRPCNIOTransportHTTP2

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

    /// - Parameter privateKeyBytes: the key already read (settled reads it with its owner-only
    ///   check); nil loads `privateKey` from its path.
    public func transportSecurity(privateKeyBytes: [UInt8]? = nil) -> HTTP2ServerTransport.Posix.TransportSecurity {
        let key = privateKeyBytes.map { TLSConfig.PrivateKeySource.bytes($0, format: .pem) } ?? .file(path: privateKey, format: .pem)
        let chain: [TLSConfig.CertificateSource] = [.file(path: certificateChain, format: .pem)]
        guard let clientCertificateAuthority else { return .tls(certificateChain: chain, privateKey: key) }
        return .mTLS(certificateChain: chain, privateKey: key) { tls in
            tls.trustRoots = .certificates([.file(path: clientCertificateAuthority, format: .pem)])
        }
    }
}
