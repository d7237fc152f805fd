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
}
