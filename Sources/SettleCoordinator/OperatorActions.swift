import Logging
import Metrics
import SettleCore

/// What an operator may do to a transfer, for the API (Resolve, Approve, Reject) and the console
/// alike: the same checks, the same sealed records with the operator's name, the same logs.
/// The operator is always an authenticated client, never a typed name.
struct OperatorActions: Sendable {
    let registry: TransferRegistry
    let nudges: RetryNudges
    let fourEyes: Bool
    let metrics: CoordinatorMetrics
    let logger: Logger

    /// Why an action was refused, in words an operator can act on.
    struct Refusal: Error, CustomStringConvertible {
        enum Kind: Sendable { case notFound, notNow, invalid, permission }
        let kind: Kind
        let description: String

        static func unknown(_ id: String) -> Refusal {
            Refusal(kind: .notFound, description: "no transfer with id '\(id.prefix(128))' is known here")
        }
    }

    /// Decides a stuck transfer, or with four-eyes seals the proposal a second operator approves.
    func resolve(_ id: String, outcome: TransferStatus, reason: String, by who: String) async throws -> TransferEntry {
        try Self.checkReason(reason)
        guard [.committed, .compensated, .aborted].contains(outcome) else {
            throw Refusal(kind: .invalid, description: "outcome is COMMITTED, COMPENSATED or ABORTED")
        }
        let proposal = ResolutionProposal(outcome: outcome, reason: reason, operator: who)
        if fourEyes { return try await propose(id, proposal) }
        return try await decide(id, proposal, approvedBy: nil)
    }

    /// Four-eyes: a second operator makes the sealed proposal the MANUAL decision. A proposal
    /// sealed while four-eyes was configured can still be approved after it is off.
    ///
    /// - Parameter seen: the proposal as the approver was shown it (the console sends it back);
    ///   approving refuses if the proposal has changed since, so nobody approves what they did not read.
    func approve(_ id: String, by approver: String, seen: ResolutionProposal? = nil) async throws -> TransferEntry {
        guard let proposal = registry.entry(id)?.proposal else {
            throw Refusal(kind: .notNow, description: "transfer '\(id.prefix(128))' has no proposal to approve")
        }
        try Self.check(seen, against: proposal)
        guard proposal.operator != approver else {
            throw Refusal(
                kind: .permission, description: "four-eyes: \(approver) proposed this resolution, so another operator must approve it"
            )
        }
        return try await decide(id, proposal, approvedBy: approver)
    }

    /// Four-eyes: the proposer withdraws its proposal, or another operator refuses it; sealed, so
    /// no operator can hold a stuck transfer hostage with a wrong proposal.
    func reject(_ id: String, reason: String, by who: String, seen: ResolutionProposal? = nil) async throws -> TransferEntry {
        try Self.checkReason(reason)
        guard let proposal = registry.entry(id)?.proposal else {
            throw Refusal(kind: .notNow, description: "transfer '\(id.prefix(128))' has no proposal to reject")
        }
        try Self.check(seen, against: proposal)
        let entry = try claim(id, proposal, approving: true)
        await registry.appendOrStop(.rejected(transferID: entry.spec.id, reason: reason, operator: who), logger: logger)
        logger.notice(
            "resolution proposal rejected", metadata: ["transfer.id": "\(id)", "proposal": "\(proposal.summary)", "operator": "\(who)"]
        )
        return try current(id)
    }

    /// Wakes a transfer's branches waiting between phase-two or compensation attempts, once the
    /// RETRY record naming the operator is sealed; returns how many were woken.
    func retryNow(_ id: String, by who: String) async throws -> Int {
        guard let entry = registry.entry(id) else {
            throw Refusal.unknown(id)
        }
        guard !entry.status.isFinal, !entry.retries.isEmpty else {
            throw Refusal(kind: .notNow, description: "transfer \(id) has no branch waiting to retry")
        }
        await registry.appendOrStop(.retry(transferID: id, operator: who), logger: logger)
        let woken = nudges.nudge(id)
        logger.notice("retry now", metadata: ["transfer.id": "\(id)", "operator": "\(who)", "woken": "\(woken)"])
        Counter(label: "settle_operator_retries_total").increment()
        return woken
    }

    private func propose(_ id: String, _ proposal: ResolutionProposal) async throws -> TransferEntry {
        _ = try claim(id, proposal)
        await registry.appendOrStop(
            .proposed(transferID: id, outcome: proposal.outcome, reason: proposal.reason, operator: proposal.operator), logger: logger
        )
        logger.notice(
            "resolution proposed; it waits for a second operator",
            metadata: ["transfer.id": "\(id)", "outcome": "\(proposal.outcome.rawValue)", "operator": "\(proposal.operator)"]
        )
        return try current(id)
    }

    private func decide(_ id: String, _ proposal: ResolutionProposal, approvedBy approver: String?) async throws -> TransferEntry {
        _ = try claim(id, proposal, approving: approver != nil)
        await registry.appendOrStop(
            .manual(
                transferID: id, outcome: proposal.outcome, reason: proposal.reason, operator: proposal.operator,
                finishedAtMilliseconds: WallClock.nowMilliseconds(), approvedBy: approver
            ),
            logger: logger
        )
        logger.notice(
            "transfer resolved by an operator",
            metadata: [
                "transfer.id": "\(id)", "outcome": "\(proposal.outcome.rawValue)", "operator": "\(proposal.operator)",
                "approved_by": "\(approver ?? "")",
            ]
        )
        Counter(label: "settle_transfers_resolved_total", dimensions: [("outcome", proposal.outcome.rawValue)]).increment()
        metrics.finished(path: "manual")
        return try current(id)
    }

    private func claim(_ id: String, _ proposal: ResolutionProposal, approving: Bool = false) throws -> TransferEntry {
        switch registry.claimResolution(id, proposal, approving: approving) {
        case .notFound: throw Refusal.unknown(id)
        case .refused(let standing): throw Refusal(kind: .notNow, description: standing)
        case .claimed(let claimed): return claimed
        }
    }

    private func current(_ id: String) throws -> TransferEntry {
        guard let entry = registry.entry(id) else {
            throw Refusal(kind: .notNow, description: "transfer \(id) was forgotten while being resolved; look again")
        }
        return entry
    }

    static func check(_ seen: ResolutionProposal?, against proposal: ResolutionProposal) throws {
        guard let seen, seen != proposal else { return }
        throw Refusal(
            kind: .notNow,
            description: "the proposal changed since you looked: it is now \(proposal.summary), because: \(proposal.reason); look again"
        )
    }

    private static func checkReason(_ reason: String) throws {
        guard (1...1024).contains(reason.utf8.count) else { throw Refusal(kind: .invalid, description: "reason is 1 to 1024 bytes") }
    }
}
