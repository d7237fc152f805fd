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

/// The credentials a server accepts, each naming one caller: SHA-256 digests of bearer tokens,
/// and common names of client certificates (checked against the server's client authority by
/// mutual TLS before any call arrives).
public struct CredentialTable: Sendable {
    private var tokens: [(digest: [UInt8], name: String)] = []
    private var commonNames: [String: String] = [:]

    public init() {}

    public mutating func addToken(digest: [UInt8], name: String) { tokens.append((digest, name)) }
    public mutating func addCertificate(commonName: String, name: String) { commonNames[commonName] = name }

    /// Every digest is compared, so the time taken does not say which one was close.
    public func name(forToken token: String) -> String? {
        let presented = TokenSource.digest(ofToken: token)
        var found: String?
        for entry in tokens where constantTimeEqual(presented, entry.digest) { found = entry.name }
        return found
    }

    public func name(forCertificate certificate: Certificate) -> String? {
        for relativeName in certificate.subject {
            for attribute in relativeName where attribute.type == .RDNAttributeType.commonName {
                if let name = commonNames["\(attribute.value)"] { return name }
            }
        }
        return nil
    }

    public var isEmpty: Bool { tokens.isEmpty && commonNames.isEmpty }
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

/// Compares without an early exit, so the time taken does not reveal how much of a guess matched.
public func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    var difference: UInt8 = lhs.count == rhs.count ? 0 : 1
    for index in 0..<max(lhs.count, rhs.count) {
        difference |= (index < lhs.count ? lhs[index] : 0) ^ (index < rhs.count ? rhs[index] : 0)
    }
    return difference == 0
}
