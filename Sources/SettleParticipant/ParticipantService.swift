import GRPCCore
import Logging
import PostgresClient
import SettleAuth
import SettleProtocol

/// The gRPC face of a participant: validates, runs the branch operation, answers, and counts.
struct ParticipantService: Settle_V1_Participant.SimpleServiceProtocol {
    let name: String
    let registry: HandlerRegistry
    let operations: BranchOperations
    let limits: RequestLimits
    let coordinators: [String: CoordinatorCredential]
    let requireSignedPhaseTwo: Bool
    let metrics: ParticipantMetrics
    let logger: Logger
    /// Ends `Branches` calls when the server shuts down (`ShutdownNotice`).
    let shutdown: ShutdownNotice
    let branchCalls = BranchCallGate()
    /// Batch roots already verified: a further order of the same batch costs a few hashes.
    let verifiedBatches = VerifiedOrderBatches()

    func prepare(
        request: Settle_V1_PrepareRequest, context: ServerContext
    ) async throws -> Settle_V1_PrepareResponse {
        try await answering("prepare", gid: request.gid) {
            try limits.validateGID(request.gid)
            try limits.validatePayload(request.payload, for: request.action)
            let digest = WorkDigest(name: request.action, payload: request.payload)
            // Only work the coordinator signed for this gid and this participant is ever prepared.
            let order = try verified(.prepare, gid: request.gid, request.hasOrder ? request.order : nil, work: digest.bytes)
            let work = try registry.bind(.action, name: request.action, payload: Array(request.payload))
            let started = ContinuousClock.now
            let outcome = try await operations.prepare(
                gid: request.gid, digest: digest, workIsSigned: order != nil, senderEpoch: try Self.senderEpoch(),
                work: work
            )
            metrics.prepareDuration.record(duration: ContinuousClock.now - started)
            var response = Settle_V1_PrepareResponse()
            switch outcome {
            case .prepared:
                response.outcome = .prepared
            case .refused(let reason):
                response.outcome = .refused
                response.refusalKind = .business
                response.reason = reason
            case .cancelled:
                response.outcome = .refused
                response.refusalKind = .cancelled
                response.reason = "the branch was cancelled before this prepare arrived"
            }
            return (response, outcome.label)
        }
    }

    /// The lease epoch the coordinator acts under, from its `settle-coordinator-epoch` header;
    /// nil when absent (a coordinator from before failover: the gid's epoch stands in).
    static func senderEpoch() throws -> UInt32? {
        guard let text = SenderEpochInterceptor.header else { return nil }
        guard let epoch = UInt32(text), epoch >= 1 else {
            throw ParticipantError(.invalidArgument, "settle-coordinator-epoch must be a decimal from 1 to 4294967295")
        }
        return epoch
    }

    func commit(request: Settle_V1_CommitRequest, context: ServerContext) async throws -> Settle_V1_CommitResponse {
        try await answering("commit", gid: request.gid) {
            try limits.validateGID(request.gid)
            let order = try verified(.commit, gid: request.gid, request.hasOrder ? request.order : nil)
            let outcome = try await operations.commit(gid: request.gid, order: order)
            var response = Settle_V1_CommitResponse()
            response.outcome = outcome == .committed ? .committed : .heuristicRollback
            if outcome == .heuristicRollback {
                logger.warning("commit found the branch rolled back", metadata: ["gid": "\(request.gid)"])
            }
            return (response, outcome == .committed ? "committed" : "heuristic-rollback")
        }
    }

    func rollback(request: Settle_V1_RollbackRequest, context: ServerContext) async throws -> Settle_V1_RollbackResponse {
        try await answering("rollback", gid: request.gid) {
            try limits.validateGID(request.gid)
            let order = try verified(.rollback, gid: request.gid, request.hasOrder ? request.order : nil)
            let outcome = try await operations.rollback(gid: request.gid, order: order)
            var response = Settle_V1_RollbackResponse()
            response.outcome = outcome == .rolledBack ? .rolledBack : .alreadyCommitted
            return (response, outcome == .rolledBack ? "rolled-back" : "already-committed")
        }
    }

    func compensate(
        request: Settle_V1_CompensateRequest, context: ServerContext
    ) async throws -> Settle_V1_CompensateResponse {
        try await answering("compensate", gid: request.gid) {
            try limits.validateGID(request.gid)
            try limits.validatePayload(request.payload, for: request.compensation)
            let digest = WorkDigest(name: request.compensation, payload: request.payload)
            let order = try verified(.compensate, gid: request.gid, request.hasOrder ? request.order : nil, work: digest.bytes)
            let work = try registry.bind(.compensation, name: request.compensation, payload: Array(request.payload))
            let outcome = try await operations.compensate(gid: request.gid, digest: digest, work: work, order: order)
            var response = Settle_V1_CompensateResponse()
            switch outcome {
            case .compensated: response.outcome = .compensated
            case .empty: response.outcome = .empty
            case .refused(let reason):
                response.outcome = .refused
                response.reason = reason
            }
            return (response, outcome.label)
        }
    }

    func inDoubt(request: Settle_V1_InDoubtRequest, context: ServerContext) async throws -> Settle_V1_InDoubtResponse {
        try await answering("in-doubt", gid: request.gidPrefix) {
            try limits.validateGIDPrefix(request.gidPrefix)
            try requireOwn(prefix: request.gidPrefix)
            let branches = try await operations.inDoubt(gidPrefix: request.gidPrefix)
            var response = Settle_V1_InDoubtResponse()
            response.branches = branches.map { branch in
                var message = Settle_V1_InDoubtResponse.Branch()
                message.gid = branch.gid
                message.preparedAtUnixMs = branch.preparedAtUnixMilliseconds
                message.ageMs = branch.ageMilliseconds
                message.blockedSessions = branch.blockedSessions
                return message
            }
            return (response, "listed")
        }
    }

    func waitsFor(request: Settle_V1_WaitsForRequest, context: ServerContext) async throws -> Settle_V1_WaitsForResponse {
        try await answering("waits-for", gid: request.gidPrefix) {
            try limits.validateGIDPrefix(request.gidPrefix)
            try requireOwn(prefix: request.gidPrefix)
            let edges = try await operations.waitsFor(gidPrefix: request.gidPrefix)
            var response = Settle_V1_WaitsForResponse()
            response.edges = edges.map { edge in
                var message = Settle_V1_WaitsForResponse.Edge()
                message.waitingGid = edge.waitingGID
                message.blockingGid = edge.blockingGID
                return message
            }
            return (response, "listed")
        }
    }

    func health(request: Settle_V1_HealthRequest, context: ServerContext) async throws -> Settle_V1_HealthResponse {
        try await answering("health", gid: "") {
            let capacity = try await operations.preparedCapacity()
            var response = Settle_V1_HealthResponse()
            response.participant = name
            response.maxPreparedTransactions = Int32(capacity.maxPrepared)
            response.preparedTransactions = Int32(capacity.prepared)
            response.actions = registry.actions.keys.sorted()
            response.compensations = registry.compensations.keys.sorted()
            return (response, "ok")
        }
    }

    private func caller() throws -> CoordinatorCredential {
        let id = try AuthenticatedCaller.required()
        guard let coordinator = coordinators[id] else { throw RPCError(code: .unauthenticated, message: "unknown coordinator \(id)") }
        return coordinator
    }

    /// A coordinator acts only for its own gids, so one holding its own token cannot touch another's branches.
    private func requireOwn(_ gid: String) throws {
        let coordinator = try caller()
        guard gid.hasPrefix(coordinator.gidPrefix) else {
            throw RPCError(code: .permissionDenied, message: "coordinator \(coordinator.id) may name only gids under \(coordinator.gidPrefix)")
        }
    }

    private func requireOwn(prefix: String) throws {
        let coordinator = try caller()
        guard prefix.hasPrefix(coordinator.gidPrefix) else {
            throw RPCError(
                code: .permissionDenied, message: "coordinator \(coordinator.id) may ask only about gids under \(coordinator.gidPrefix)"
            )
        }
    }

    /// The order a command carries, verified against its coordinator's keys and this participant's
    /// name: what the barrier keeps as evidence. Nil only for an unsigned command while signatures
    /// are optional.
    private func verified(
        _ command: SignedOrder.Command, gid: String, _ message: Settle_V1_SignedOrder?, work: [UInt8]? = nil
    ) throws -> OrderEvidence? {
        try requireOwn(gid)
        guard let message, !message.signature.isEmpty else {
            guard requireSignedPhaseTwo else { return nil }
            throw RPCError(code: .unauthenticated, message: "the \(command.rawValue) of \(gid) is not signed; nothing was done")
        }
        let order = SignedOrder(command: command, participant: name, gid: gid, decisionLSN: message.decisionLsn, work: work)
        let signature = Array(message.signature)
        if let refusal = order.refusal(of: signature, keys: try caller().publicKeys, verifiedBatches: verifiedBatches) {
            logger.warning("refused a command with a bad signature", metadata: ["gid": "\(gid)", "why": "\(refusal)"])
            throw RPCError(code: .unauthenticated, message: "\(refusal); nothing was done")
        }
        return OrderEvidence(decisionLSN: message.decisionLsn, signature: signature)
    }

    /// Runs one RPC: maps every failure to its documented status, counts the outcome, logs failures.
    private func answering<Response: Sendable>(
        _ operation: String, gid: String, _ body: () async throws -> (Response, String)
    ) async throws -> Response {
        do {
            let (response, outcome) = try await body()
            metrics.recordOperation(operation, outcome: outcome)
            return response
        } catch {
            let status = Self.rpcError(for: error)
            metrics.recordOperation(operation, outcome: "error-\(status.code)")
            if ![.invalidArgument, .notFound, .unauthenticated, .permissionDenied].contains(status.code) {
                logger.error(
                    "participant operation failed",
                    metadata: ["operation": "\(operation)", "gid": "\(gid)", "status": "\(status.code)", "error": "\(status.message)"]
                )
            }
            throw status
        }
    }

    static func rpcError(for error: any Error) -> RPCError {
        switch error {
        case let error as RPCError:
            return error
        case let error as ParticipantError:
            switch error.code {
            case .invalidArgument: return RPCError(code: .invalidArgument, message: error.message)
            case .unknownOperation: return RPCError(code: .notFound, message: error.message)
            case .conflict: return RPCError(code: .aborted, message: error.message)
            case .branchPrepared, .workMismatch, .staleEpoch: return RPCError(code: .failedPrecondition, message: error.message)
            case .databaseUnavailable: return RPCError(code: .unavailable, message: error.message)
            default: return RPCError(code: .internalError, message: error.message)
            }
        case let error as PostgresError where error.isUnavailable:
            return RPCError(code: .unavailable, message: "the participant's database is unavailable: \(error)")
        case let error as PostgresError where error.isResourceShortage:
            return RPCError(code: .resourceExhausted, message: "the participant's database is short of a resource: \(error); retry later")
        case let error as PostgresError where error.isTransientConflict:
            return RPCError(code: .aborted, message: "transient conflict: \(error); retry")
        case let error as PostgresError where error.code == .timeout || error.code == .queryCanceled:
            return RPCError(code: .deadlineExceeded, message: "the database statement was cancelled: \(error)")
        case is CancellationError:
            return RPCError(code: .cancelled, message: "the call was cancelled before the participant answered")
        default:
            return RPCError(code: .internalError, message: "\(error)")
        }
    }
}

extension PrepareOutcome {
    var label: String {
        switch self {
        case .prepared: "prepared"
        case .refused: "refused"
        case .cancelled: "refused-cancelled"
        }
    }
}

extension CompensateOutcome {
    var label: String {
        switch self {
        case .compensated: "compensated"
        case .empty: "empty"
        case .refused: "refused"
        }
    }
}
