import Hummingbird
import HummingbirdTLS
import NIOSSL
import SettleCore
import SettleProtocol
import SignedLog
import X509

/// HTTPS for the console with the client API's certificate and key (settled's `tls`), and login
/// by client certificate when the API trusts a client certificate authority: the browser's
/// certificate names its client through `certificateCommonName`, as it does for the API.
extension ConsoleServer {
    static func tlsConfiguration(_ tls: ServerTLS) throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(tls.certificateChain).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(bytes: PrivateKeyFile.readOwnerOnly(tls.privateKey), format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        if let authority = tls.clientCertificateAuthority {
            configuration.trustRoots = .file(authority)
            // Asked for, checked when presented, not required: token login works beside it.
            configuration.certificateVerification = .optionalVerification
        }
        return configuration
    }

    /// The client the connection's verified client certificate names, or why there is none.
    func clientOfCertificate(_ context: ConsoleRequestContext) async -> Result<String, Refusal> {
        guard tls?.clientCertificateAuthority != nil else {
            return .failure(.forbidden("certificate login needs settled's tls.clientCertificateAuthority"))
        }
        guard let presented = try? await context.channel.nioSSL_peerCertificate().get() else {
            return .failure(.forbidden("your browser presented no client certificate"))
        }
        guard let certificate = try? Certificate(derEncoded: presented.toDERBytes()),
            let name = clients.credentials.name(forCertificate: certificate)
        else {
            return .failure(.forbidden("your client certificate names no client of this coordinator (certificateCommonName)"))
        }
        return .success(name)
    }
}
