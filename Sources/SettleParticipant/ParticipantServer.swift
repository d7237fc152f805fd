import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import SettleCore

/// A started participant's gRPC server. `run()` serves until `beginGracefulShutdown()` (or until
/// the task is cancelled) and keeps the in-doubt gauges fresh meanwhile.
public struct ParticipantServer: Sendable {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let shutdown: ShutdownNotice
    let operations: BranchOperations
    let metrics: ParticipantMetrics
    let refreshInterval: Duration
    let heuristicRollbackAfter: Duration?
    let logger: Logger

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            group.addTask { await refreshInDoubtGauges() }
            // Serving ends first (shutdown or failure); the refresher follows it.
            defer { group.cancelAll() }
            try await group.next()
        }
        await operations.phaseTwoPool.close()
    }

    /// The bound port: useful when started on port 0.
    public var listeningPort: Int {
        get async throws {
            let address = try await server.transport.listeningAddress
            guard let port = address.ipv4?.port ?? address.ipv6?.port else {
                throw RPCError(code: .internalError, message: "the participant listens on \(address), not on an IP port")
            }
            return port
        }
    }

    /// Stops accepting calls and lets the ones in flight finish.
    public func beginGracefulShutdown() {
        server.beginGracefulShutdown()
        shutdown.give()
    }

    private func rollBackHeuristically(_ branches: [BranchOperations.InDoubtBranch], olderThan limit: Duration) async throws {
        for branch in branches where branch.ageMilliseconds > limit.wholeMilliseconds {
            _ = try await operations.rollback(gid: branch.gid, order: nil)
            metrics.recordOperation("heuristic-rollback", outcome: "rolled-back")
            logger.warning(
                "rolled back a branch prepared too long (heuristicRollbackAfter); its coordinator will see a heuristic outcome",
                metadata: ["gid": "\(branch.gid)", "age_ms": "\(branch.ageMilliseconds)"]
            )
        }
    }

    private func refreshInDoubtGauges() async {
        while !Task.isCancelled {
            do {
                let branches = try await operations.inDoubt(gidPrefix: "settle:")
                metrics.recordInDoubt(count: branches.count, oldestAgeMilliseconds: branches.map(\.ageMilliseconds).max() ?? 0)
                if let heuristicRollbackAfter {
                    try await rollBackHeuristically(branches, olderThan: heuristicRollbackAfter)
                }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("could not refresh the in-doubt gauges", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: refreshInterval)
        }
    }
}
