import GRPCCore

/// Admits only calls carrying `authorization: Bearer <token>` with one of the configured tokens.
public struct BearerTokenInterceptor: ServerInterceptor {
    private let accepted: [[UInt8]]

    public init(tokens: [String]) {
        precondition(!tokens.isEmpty && tokens.allSatisfy { !$0.isEmpty }, "bearer tokens must not be empty")
        accepted = tokens.map { Array($0.utf8) }
    }

    public func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let presented = request.metadata[stringValues: "authorization"].first { _ in true }
        let candidate = presented.map { Array($0.utf8.dropFirst("Bearer ".utf8.count)) } ?? []
        // Every accepted token is compared, so the time taken does not say which one was close.
        let matches = accepted.reduce(false) { found, token in constantTimeEqual(candidate, token) || found }
        guard let presented, presented.hasPrefix("Bearer "), matches else {
            throw RPCError(code: .unauthenticated, message: "missing or wrong bearer token")
        }
        return try await next(request, context)
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
