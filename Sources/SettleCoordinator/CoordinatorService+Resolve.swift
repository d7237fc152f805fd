import GRPCCore
import Metrics
import SettleProtocol

extension CoordinatorService {
    func resolve(request: Settle_V1_ResolveRequest, context: ServerContext) async throws -> Settle_V1_Transfer {
        let reason = request.reason
        let who = request.`operator`
        guard (1...1024).contains(reason.utf8.count), (1...128).contains(who.utf8.count) else {
            throw RPCError(code: .invalidArgument, message: "reason is 1 to 1024 bytes and operator 1 to 128 bytes")
        }
        guard let outcome = TransferStatus(request.outcome), [.committed, .compensated, .aborted].contains(outcome) else {
            throw RPCError(code: .invalidArgument, message: "outcome is COMMITTED, COMPENSATED or ABORTED")
        }
        let entry: TransferEntry
        switch table.claimResolution(request.transferID, outcome: outcome, by: who) {
        case .notFound:
            throw RPCError(code: .notFound, message: "no transfer with id '\(request.transferID.prefix(128))' is known here")
        case .refused(let standing):
            throw RPCError(code: .failedPrecondition, message: standing)
        case .claimed(let claimed):
            entry = claimed
        }
        let now = WallClock.nowMilliseconds()
        let facts = FinalFacts(
            status: entry.status, path: entry.finalPath ?? "", reason: entry.reason,
            finishedAtMilliseconds: entry.finishedAtMilliseconds ?? now, branchStates: entry.branchStates, admission: entry.admission
        ).resolved(as: outcome, by: who, reason: reason, atMilliseconds: now)
        await journal.appendOrStop(
            .manual(transferID: entry.spec.id, outcome: outcome, reason: reason, operator: who, finishedAtMilliseconds: now),
            logger: logger
        )
        // The claim is this call's alone, so the entry is still stuck and claimed.
        guard let final = table.resolve(entry.spec.id, facts) else {
            throw RPCError(code: .internalError, message: "transfer \(entry.spec.id) lost its resolution claim; look again")
        }
        logger.notice(
            "transfer resolved by an operator",
            metadata: ["transfer.id": "\(entry.spec.id)", "outcome": "\(outcome.rawValue)", "operator": "\(who)"]
        )
        Counter(label: "settle_transfers_resolved_total", dimensions: [("outcome", outcome.rawValue)]).increment()
        metrics.finished(path: "manual")
        return final.message(coordinatorID: configuration.coordinatorID)
    }
}
