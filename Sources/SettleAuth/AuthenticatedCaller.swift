import GRPCCore
import GRPCNIOTransportHTTP2
import X509

/// Who made the current call, as `CallerAuthenticationInterceptor` established it. Handlers ask
/// for it with `required()`: a call that somehow reached them without an identity is refused,
/// never served as anybody.
public enum AuthenticatedCaller {
    @TaskLocal public static var name: String?

    public static func required() throws -> String {
        guard let name else { throw RPCError(code: .unauthenticated, message: "the call carries no authenticated identity") }
        return name
    }
}

/// Mutual TLS: the client certificate names its caller through the common names configured.
extension CredentialTable {
    public func name(forCertificate certificate: Certificate) -> String? {
        for relativeName in certificate.subject {
            for attribute in relativeName where attribute.type == .RDNAttributeType.commonName {
                if let name = commonNames["\(attribute.value)"] { return name }
            }
        }
        return nil
    }
}

/// Identifies each call by its bearer token or its client certificate and runs the handler with
/// `AuthenticatedCaller.name` set. A call with neither, or with credentials of two different
/// callers, is UNAUTHENTICATED before any handler sees it.
public struct CallerAuthenticationInterceptor: ServerInterceptor {
    let credentials: CredentialTable
    let onRefusal: @Sendable () -> Void

    public init(credentials: CredentialTable, onRefusal: @escaping @Sendable () -> Void = {}) {
        self.credentials = credentials
        self.onRefusal = onRefusal
    }

    public func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let presented = request.metadata[stringValues: "authorization"].first { _ in true }
        var byToken: String?
        if let presented {
            guard presented.hasPrefix("Bearer "), let name = credentials.name(forToken: String(presented.dropFirst(7))) else {
                onRefusal()
                throw RPCError(code: .unauthenticated, message: "missing or wrong bearer token")
            }
            byToken = name
        }
        let certificate = (context.transportSpecific as? HTTP2ServerTransport.Posix.Context)?.peerCertificate
        let byCertificate = certificate.flatMap { credentials.name(forCertificate: $0) }
        if let byToken, let byCertificate, byToken != byCertificate {
            onRefusal()
            throw RPCError(code: .unauthenticated, message: "the bearer token and the client certificate name different callers")
        }
        guard let caller = byToken ?? byCertificate else {
            onRefusal()
            throw RPCError(code: .unauthenticated, message: "missing or wrong bearer token")
        }
        // Unary handlers run inside `next`, so they see the value; a handler that does not
        // fails closed through `AuthenticatedCaller.required()`.
        return try await AuthenticatedCaller.$name.withValue(caller) { try await next(request, context) }
    }
}
