import GRPCCore
import Testing

/// The RPC status a call failed with, or nil if it succeeded.
public func rpcFailure(_ call: () async throws -> Void) async -> RPCError? {
    do {
        try await call()
        return nil
    } catch let error as RPCError {
        return error
    } catch {
        Issue.record("expected an RPCError, got \(error)")
        return nil
    }
}
