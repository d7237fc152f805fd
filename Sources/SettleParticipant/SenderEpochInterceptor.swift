import GRPCCore
import SettleCore

/// Hands the coordinator's `settle-coordinator-epoch` header to the handler as a task-local,
/// the way `CallerAuthenticationInterceptor` hands over the caller's name (the simple service
/// protocol does not show handlers the request's metadata).
struct SenderEpochInterceptor: ServerInterceptor {
    @TaskLocal static var header: String?

    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let header = request.metadata[stringValues: SenderEpochHeader.name].first { _ in true }
        return try await Self.$header.withValue(header) { try await next(request, context) }
    }
}
