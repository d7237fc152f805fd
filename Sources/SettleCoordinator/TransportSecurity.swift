import GRPCNIOTransportHTTP2
import SettleProtocol
import SignedLog

extension APITLSConfiguration {
    /// The server side of the client API. The key goes through the same owner-only check as the
    /// log's signing key; certificates are public and load from their paths.
    func transportSecurity() throws -> HTTP2ServerTransport.Posix.TransportSecurity {
        let key = TLSConfig.PrivateKeySource.bytes(try PrivateKeyFile.readOwnerOnly(privateKey), format: .pem)
        let chain: [TLSConfig.CertificateSource] = [.file(path: certificateChain, format: .pem)]
        guard let clientCertificateAuthority else { return .tls(certificateChain: chain, privateKey: key) }
        return .mTLS(certificateChain: chain, privateKey: key) { tls in
            tls.trustRoots = .certificates([.file(path: clientCertificateAuthority, format: .pem)])
        }
    }
}

extension ParticipantTLSConfiguration {
    func transportSecurity() throws -> HTTP2ClientTransport.Posix.TransportSecurity {
        switch self {
        case .plaintext:
            return .plaintext
        case .systemTrustRoots:
            return .tls
        case .files(let files):
            return files.transportSecurity(privateKeyBytes: try files.privateKey.map(PrivateKeyFile.readOwnerOnly))
        }
    }

    /// Certificate files named here, for start-up checks.
    var certificateFiles: [String] {
        guard case .files(let files) = self else { return [] }
        return [files.certificateAuthority, files.certificateChain].compactMap { $0 }
    }
}
