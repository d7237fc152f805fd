import GRPCNIOTransportHTTP2

/// The gRPC transport settings this configuration stands for.
extension ServerTLS {
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
