import GRPCCore
import Metrics
import SettleProtocol

extension CoordinatorService {
    /// The operator is the authenticated client, never a typed name. With four-eyes configured,
    /// this only seals a proposal; `approve` by another operator makes it the decision.
    func resolve(request: Settle_V1_ResolveRequest, context: ServerContext) async throws -> Settle_V1_Transfer {
        let who = try caller("operator") { $0.operator ? nil : "client \($0.name) lacks permission: operator" }.name
        let reason = request.reason
        guard (1...1024).contains(reason.utf8.count) else {
            throw RPCError(code: .invalidArgument, message: "reason is 1 to 1024 bytes")
        }
        guard request.`operator`.isEmpty || request.`operator` == who else {
            throw RPCError(
                code: .invalidArgument,
                message: "operator is taken from your credential (\(who)); leave the field empty rather than name someone else"
            )
        }
        guard let outcome = TransferStatus(request.outcome), [.committed, .compensated, .aborted].contains(outcome) else {
            throw RPCError(code: .invalidArgument, message: "outcome is COMMITTED, COMPENSATED or ABORTED")
        }
        let proposal = ResolutionProposal(outcome: outcome, reason: reason, operator: who)
        if configuration.fourEyesResolution { return try await propose(request.transferID, proposal) }
        return try await decide(request.transferID, proposal, approvedBy: nil)
    }

    /// Four-eyes: a second operator makes the sealed proposal the MANUAL decision. A proposal
    /// sealed while four-eyes was configured can still be approved (or rejected) after it is off.
    func approve(request: Settle_V1_ApproveRequest, context: ServerContext) async throws -> Settle_V1_Transfer {
        let approver = try caller("operator") { $0.operator ? nil : "client \($0.name) lacks permission: operator" }.name
        guard let proposal = registry.entry(request.transferID)?.proposal else {
            throw RPCError(code: .failedPrecondition, message: "transfer '\(request.transferID.prefix(128))' has no proposal to approve")
        }
        guard proposal.operator != approver else {
            throw refused("operator", "four-eyes: \(approver) proposed this resolution, so another operator must approve it")
        }
        return try await decide(request.transferID, proposal, approvedBy: approver)
    }

    /// Four-eyes: the proposer withdraws its proposal, or another operator refuses it; sealed, so
    /// no operator can hold a stuck transfer hostage with a wrong proposal.
    func reject(request: Settle_V1_RejectRequest, context: ServerContext) async throws -> Settle_V1_Transfer {
        let who = try caller("operator") { $0.operator ? nil : "client \($0.name) lacks permission: operator" }.name
        guard (1...1024).contains(request.reason.utf8.count) else {
            throw RPCError(code: .invalidArgument, message: "reason is 1 to 1024 bytes")
        }
        guard let proposal = registry.entry(request.transferID)?.proposal else {
            throw RPCError(code: .failedPrecondition, message: "transfer '\(request.transferID.prefix(128))' has no proposal to reject")
        }
        let entry = try claim(request.transferID, proposal, approving: true)
        await registry.appendOrStop(.rejected(transferID: entry.spec.id, reason: request.reason, operator: who), logger: logger)
        guard let rejected = registry.entry(entry.spec.id) else {
            throw RPCError(code: .internalError, message: "transfer \(entry.spec.id) was forgotten while being resolved; look again")
        }
        logger.notice(
            "resolution proposal rejected",
            metadata: ["transfer.id": "\(entry.spec.id)", "proposal": "\(proposal.summary)", "operator": "\(who)"]
        )
        return rejected.message(coordinatorID: configuration.coordinatorID)
    }

    private func propose(_ id: String, _ proposal: ResolutionProposal) async throws -> Settle_V1_Transfer {
        let entry = try claim(id, proposal)
        await registry.appendOrStop(
            .proposed(transferID: id, outcome: proposal.outcome, reason: proposal.reason, operator: proposal.operator), logger: logger
        )
        guard let proposed = registry.entry(entry.spec.id) else {
            throw RPCError(code: .internalError, message: "transfer \(id) was forgotten while being resolved; look again")
        }
        logger.notice(
            "resolution proposed; it waits for a second operator",
            metadata: ["transfer.id": "\(id)", "outcome": "\(proposal.outcome.rawValue)", "operator": "\(proposal.operator)"]
        )
        return proposed.message(coordinatorID: configuration.coordinatorID)
    }

    private func decide(_ id: String, _ proposal: ResolutionProposal, approvedBy approver: String?) async throws -> Settle_V1_Transfer {
        let entry = try claim(id, proposal, approving: approver != nil)
        let now = WallClock.nowMilliseconds()
        await registry.appendOrStop(
            .manual(
                transferID: entry.spec.id, outcome: proposal.outcome, reason: proposal.reason, operator: proposal.operator,
                finishedAtMilliseconds: now, approvedBy: approver
            ),
            logger: logger
        )
        guard let final = registry.entry(entry.spec.id) else {
            throw RPCError(code: .internalError, message: "transfer \(entry.spec.id) was forgotten while being resolved; look again")
        }
        logger.notice(
            "transfer resolved by an operator",
            metadata: [
                "transfer.id": "\(entry.spec.id)", "outcome": "\(proposal.outcome.rawValue)", "operator": "\(proposal.operator)",
                "approved_by": "\(approver ?? "")",
            ]
        )
        Counter(label: "settle_transfers_resolved_total", dimensions: [("outcome", proposal.outcome.rawValue)]).increment()
        metrics.finished(path: "manual")
        return final.message(coordinatorID: configuration.coordinatorID)
    }

    private func claim(_ id: String, _ proposal: ResolutionProposal, approving: Bool = false) throws -> TransferEntry {
        switch registry.claimResolution(id, proposal, approving: approving) {
        case .notFound:
            throw RPCError(code: .notFound, message: "no transfer with id '\(id.prefix(128))' is known here")
        case .refused(let standing):
            throw RPCError(code: .failedPrecondition, message: standing)
        case .claimed(let claimed):
            return claimed
        }
    }
}
