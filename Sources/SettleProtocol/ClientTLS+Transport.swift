import GRPCNIOTransportHTTP2

/// The gRPC transport settings this configuration stands for.
extension ClientTLS {
    /// - Parameter privateKeyBytes: the key already read (settled reads it with its owner-only
    ///   check); nil loads `privateKey` from its path.
    public func transportSecurity(privateKeyBytes: [UInt8]? = nil) -> HTTP2ClientTransport.Posix.TransportSecurity {
        .tls { tls in
            if let certificateAuthority { tls.trustRoots = .certificates([.file(path: certificateAuthority, format: .pem)]) }
            if let certificateChain, let privateKey {
                tls.certificateChain = [.file(path: certificateChain, format: .pem)]
                tls.privateKey = privateKeyBytes.map { .bytes($0, format: .pem) } ?? .file(path: privateKey, format: .pem)
            }
        }
    }
}
