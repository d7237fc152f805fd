import GRPCNIOTransportHTTP2
import SettleProtocol
import SignedLog

extension APITLSConfiguration {
    /// The server side of the client API, its key read through the same owner-only check as the
    /// log's signing key.
    func transportSecurityCheckingKey() throws -> HTTP2ServerTransport.Posix.TransportSecurity {
        transportSecurity(privateKeyBytes: try PrivateKeyFile.readOwnerOnly(privateKey))
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
