import Foundation
import GRPCCore
import SettleAuth
import SettleCore
import SettleProtocol

/// `ParticipantCalling` over the participant protocol (protocol/settle/v1/participant.proto):
/// Prepare on each link's preparing connection, everything else on its phase-two connection.
struct GRPCParticipants: ParticipantCalling {
    let links: [String: ParticipantLink]
    /// The deadline of each phase-two and compensation call.
    let callTimeout: Duration
    let signer: OrderSigner
    /// Whether Prepares, Commits and Rollbacks go as `Branches` commands (`BranchStream`).
    var commandStreams = true

    func prepare(
        _ participant: String, gid: String, action: String, payload: Data, acceptedLSN: UInt64, timeout: Duration?
    ) async throws -> PrepareAnswer {
        let link = try link(participant)
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var request = Settle_V1_PrepareRequest()
        request.gid = gid
        request.action = action
        request.payload = payload
        request.order = try await signer.order(
            .prepare, for: participant, gid: gid, decisionLSN: acceptedLSN, work: SignedOrder.workDigest(name: action, payload: payload),
            batched: link.sealSupport.acceptsBatchSeals
        )
        let response = try await calling(holding: link.preparePermits) {
            // The wait for a permit counts against the prepare deadline; the phase-two calls'
            // fixed deadlines start once sent.
            func remaining() throws -> Duration? {
                guard let deadline else { return nil }
                let remaining = deadline - ContinuousClock.now
                guard remaining > .zero else { throw PrepareDeadlinePassedWaiting() }
                return remaining
            }
            return try await viaStream(link.prepareStream, .prepare(request), timeout: try remaining()) {
                (answer: BranchStream.Answer) -> Settle_V1_PrepareResponse? in
                guard case .prepare(let response) = answer else { return nil }
                return response
            } unary: { () async throws -> Settle_V1_PrepareResponse in
                var options = CallOptions.defaults
                // Computed again: a Branches attempt may have come first.
                options.timeout = try remaining()
                return try await link.preparing.prepare(request, metadata: link.metadata, options: options)
            }
        }
        switch response.outcome {
        case .prepared: return .prepared
        case .refused:
            let kind = response.refusalKind == .cancelled ? "cancelled" : "refused"
            return .refused(reason: "\(participant) \(kind): \(response.reason)")
        default: return .refused(reason: "\(participant) answered an unknown prepare outcome")
        }
    }

    func commit(_ participant: String, gid: String, decisionLSN: UInt64) async throws -> CommitAnswer {
        let link = try link(participant)
        var request = Settle_V1_CommitRequest()
        request.gid = gid
        request.order = try await signer.order(
            .commit, for: participant, gid: gid, decisionLSN: decisionLSN, batched: link.sealSupport.acceptsBatchSeals
        )
        let response = try await calling(holding: link.commitPermits) {
            try await viaStream(link.commitStream, .commit(request), timeout: callTimeout) {
                guard case .commit(let response) = $0 else { return nil }
                return response
            } unary: {
                try await link.phaseTwo.commit(request, metadata: link.metadata, options: options)
            }
        }
        switch response.outcome {
        case .committed: return .committed
        case .heuristicRollback: return .heuristicRollback
        default: throw ParticipantCallError(isTransient: true, reached: true, message: "unknown commit outcome \(response.outcome)")
        }
    }

    func rollback(_ participant: String, gid: String, decisionLSN: UInt64) async throws -> RollbackAnswer {
        let link = try link(participant)
        var request = Settle_V1_RollbackRequest()
        request.gid = gid
        request.order = try await signer.order(
            .rollback, for: participant, gid: gid, decisionLSN: decisionLSN, batched: link.sealSupport.acceptsBatchSeals
        )
        let response = try await calling(holding: link.rollbackPermits) {
            try await viaStream(link.rollbackStream, .rollback(request), timeout: callTimeout) {
                guard case .rollback(let response) = $0 else { return nil }
                return response
            } unary: {
                try await link.phaseTwo.rollback(request, metadata: link.metadata, options: options)
            }
        }
        switch response.outcome {
        case .rolledBack: return .rolledBack
        case .alreadyCommitted: return .alreadyCommitted
        default: throw ParticipantCallError(isTransient: true, reached: true, message: "unknown rollback outcome \(response.outcome)")
        }
    }

    func compensate(
        _ participant: String, gid: String, compensation: String, payload: Data, decisionLSN: UInt64
    ) async throws
        -> TransferDriver.Attempt<CompensateAnswer>
    {
        let link = try link(participant)
        var request = Settle_V1_CompensateRequest()
        request.gid = gid
        request.compensation = compensation
        request.payload = payload
        request.order = try await signer.order(
            .compensate, for: participant, gid: gid, decisionLSN: decisionLSN,
            work: SignedOrder.workDigest(name: compensation, payload: payload), batched: link.sealSupport.acceptsBatchSeals
        )
        let response = try await calling(holding: link.compensatePermits) {
            try await link.phaseTwo.compensate(request, metadata: link.metadata, options: options)
        }
        switch response.outcome {
        case .compensated: return .answered(.compensated)
        case .empty: return .answered(.empty)
        default: return .failed("refused: \(response.reason)")
        }
    }

    /// The command as one of `stream`'s, or as its own unary call when the participant does not
    /// implement the stream. Either way the participant is told the deadline and cancels the
    /// command then, as it cancels a unary call's handler at the call's deadline.
    private func viaStream<Response: Sendable>(
        _ stream: BranchStream, _ command: Settle_V1_BranchCommand.OneOf_Command, timeout: Duration?,
        answer: (BranchStream.Answer) -> Response?, unary: () async throws -> Response
    ) async throws -> Response {
        guard commandStreams, !stream.isUnimplemented else { return try await unary() }
        do {
            let reply = try await stream.send(command, timeout: timeout)
            guard let response = answer(reply) else {
                throw RPCError(code: .internalError, message: "the participant answered a \(stream.method.method) with another command's answer")
            }
            return response
        } catch is BranchStreamUnimplemented {
            return try await unary()
        }
    }

    private var options: CallOptions {
        var options = CallOptions.defaults
        options.timeout = callTimeout
        return options
    }

    private func link(_ participant: String) throws -> ParticipantLink {
        guard let link = links[participant] else {
            throw ParticipantCallError(isTransient: false, reached: false, message: "participant \(participant) is not configured")
        }
        return link
    }

    /// One call, holding one of `permits` while it runs (`CallPermits`), with its RPC failures in
    /// the driver's terms: which are worth retrying, and whether the participant answered at all.
    private func calling<Response: Sendable>(
        holding permits: CallPermits, _ call: () async throws -> Response
    ) async throws -> Response {
        do {
            return try await permits.withPermit(call)
        } catch let error as RPCError {
            let transient = [.aborted, .unavailable, .deadlineExceeded, .resourceExhausted, .cancelled].contains(error.code)
            throw ParticipantCallError(
                isTransient: transient, reached: error.code != .unavailable, message: "\(error.code): \(error.message)"
            )
        }
    }
}

/// A Prepare whose deadline passed while it waited for a call permit: never sent, and retried
/// (or given up) by the driver like any transient failure.
struct PrepareDeadlinePassedWaiting: Error {}
