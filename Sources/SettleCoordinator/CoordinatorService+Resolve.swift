import GRPCCore
import SettleProtocol

extension CoordinatorService {
    /// The operator is the authenticated client, never a typed name. With four-eyes configured,
    /// this only seals a proposal; `approve` by another operator makes it the decision.
    func resolve(request: Settle_V1_ResolveRequest, context: ServerContext) async throws -> Settle_V1_Transfer {
        let who = try operatorCaller()
        guard request.`operator`.isEmpty || request.`operator` == who else {
            throw RPCError(
                code: .invalidArgument,
                message: "operator is taken from your credential (\(who)); leave the field empty rather than name someone else"
            )
        }
        guard let outcome = TransferStatus(request.outcome) else {
            throw RPCError(code: .invalidArgument, message: "outcome is COMMITTED, COMPENSATED or ABORTED")
        }
        return try await answering { try await $0.resolve(request.transferID, outcome: outcome, reason: request.reason, by: who) }
    }

    /// The approval names the proposal it approves: one rejected and replaced meanwhile is never
    /// approved unseen.
    func approve(request: Settle_V1_ApproveRequest, context: ServerContext) async throws -> Settle_V1_Transfer {
        let approver = try operatorCaller()
        guard !request.seenOperator.isEmpty, let seenOutcome = TransferStatus(request.seenOutcome) else {
            throw RPCError(
                code: .invalidArgument,
                message: "name the proposal you approve: seen_outcome, seen_operator and seen_reason, as GetTransfer shows it "
                    + "(proposal_outcome, proposal_operator, proposal_reason)"
            )
        }
        let seen = ResolutionProposal(outcome: seenOutcome, reason: request.seenReason, operator: request.seenOperator)
        return try await answering { try await $0.approve(request.transferID, by: approver, seen: seen) }
    }

    func reject(request: Settle_V1_RejectRequest, context: ServerContext) async throws -> Settle_V1_Transfer {
        let who = try operatorCaller()
        return try await answering { try await $0.reject(request.transferID, reason: request.reason, by: who) }
    }

    private func operatorCaller() throws -> String {
        try caller("operator") { $0.operator ? nil : "client \($0.name) lacks permission: operator" }.name
    }

    private func answering(_ action: (OperatorActions) async throws -> TransferEntry) async throws -> Settle_V1_Transfer {
        do {
            return try await action(operatorActions).message(coordinatorID: configuration.coordinatorID)
        } catch let refusal as OperatorActions.Refusal {
            switch refusal.kind {
            case .notFound: throw RPCError(code: .notFound, message: refusal.description)
            case .notNow: throw RPCError(code: .failedPrecondition, message: refusal.description)
            case .invalid: throw RPCError(code: .invalidArgument, message: refusal.description)
            case .permission: throw refused("operator", refusal.description)
            }
        }
    }
}
