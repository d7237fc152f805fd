import GRPCCore

/// Admits only calls carrying `authorization: Bearer <token>` with the configured token.
struct BearerTokenInterceptor: ServerInterceptor {
    private let expected: [UInt8]

    init(token: String) {
        precondition(!token.isEmpty, "the coordinator token must not be empty")
        expected = Array(token.utf8)
    }

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let presented = request.metadata[stringValues: "authorization"].first { _ in true }
        guard let presented, presented.hasPrefix("Bearer "),
            constantTimeEqual(Array(presented.utf8.dropFirst("Bearer ".utf8.count)), expected)
        else {
            throw RPCError(code: .unauthenticated, message: "missing or wrong bearer token")
        }
        return try await next(request, context)
    }
}

/// Compares without an early exit, so the time taken does not reveal how much of a guess matched.
func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    var difference: UInt8 = lhs.count == rhs.count ? 0 : 1
    for index in 0..<max(lhs.count, rhs.count) {
        difference |= (index < lhs.count ? lhs[index] : 0) ^ (index < rhs.count ? rhs[index] : 0)
    }
    return difference == 0
}
