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
        guard let entry = table.entry(request.transferID) else {
            throw RPCError(code: .notFound, message: "no transfer with id '\(request.transferID.prefix(128))' is known here")
        }
        guard entry.status == .stuck else {
            throw RPCError(
                code: .failedPrecondition,
                message: "transfer \(entry.spec.id) is \(entry.status.rawValue), not stuck; only stuck transfers are resolved by hand"
            )
        }
        await journal.appendOrStop(
            .manual(transferID: entry.spec.id, outcome: outcome, reason: reason, operator: who), logger: logger
        )
        let resolved = table.resolve(
            entry.spec.id, status: outcome, reason: "resolved by \(who): \(reason)", atMilliseconds: WallClock.nowMilliseconds()
        )
        guard resolved, let final = table.entry(entry.spec.id) else {
            throw RPCError(code: .aborted, message: "transfer \(entry.spec.id) changed while being resolved; look again")
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
