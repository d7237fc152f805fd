import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SettleAuth
import SettleClient
import SettleCore
import SettleProtocol
import SignedLog

/// The operator's step after the storm, for whatever got stuck: each branch's compensation is run
/// once more straight at its participant, in reverse branch order as the saga does (the barrier
/// makes it exactly once: a compensation that already ran answers COMPENSATED without running,
/// and one whose action never ran is EMPTY), then the decision is recorded with Resolve. When the
/// first compensation is refused for good (the credited account has spent the money) and every
/// branch's action stands with nothing compensated, the transfer did happen in full: the operator
/// resolves it as committed. The invariants then hold the operator to either decision.
///
/// A real operator corrects the data by hand in the bank's database. This harness stands in with
/// the participant's own compensation, which must carry a signed order: the harness generated the
/// coordinator's key, so it signs over the transfer's sealed COMPENSATE decision (its
/// `decision_lsn`), the only order a participant would accept.
struct ChaosOperator {
    let deployment: ChaosDeployment
    let addresses: [HostPort]

    /// The outcome each stuck transfer has after the operator resolved it, by index.
    func resolveStuck(_ transfers: [ChaosTransfer], _ outcomes: [WorkloadRunner.Outcome]) async throws -> [Int: WorkloadRunner.Outcome] {
        var resolved: [Int: WorkloadRunner.Outcome] = [:]
        let key = try SigningKey(pemFile: deployment.signingKeyPath)
        for (index, outcome) in outcomes.enumerated() where outcome.state == .stuck {
            let transfer = transfers[index]
            let stuck = try await SettleClient.withFailover(addresses: addresses, token: ChaosDeployment.operatorToken) {
                try await $0.get(id: transfer.id)
            }
            let decision = try await undo(transfer, gids: outcome.gids, order: (key, stuck.decisionLsn))
            let after = try await SettleClient.withFailover(addresses: addresses, token: ChaosDeployment.operatorToken) {
                try await $0.resolve(id: transfer.id, outcome: decision.outcome, reason: decision.reason)
            }
            resolved[index] = WorkloadRunner.Outcome(
                state: after.state, reason: after.reason, path: after.path, attempts: outcome.attempts, gids: outcome.gids
            )
        }
        return resolved
    }

    /// Compensates every branch, last first; or, if the first refuses while every action stands
    /// uncompensated, leaves the transfer as it is: committed.
    private func undo(
        _ transfer: ChaosTransfer, gids: [String], order: (key: SigningKey, decisionLSN: UInt64)
    ) async throws -> (outcome: Settle_V1_TransferState, reason: String) {
        for (branch, gid) in gids.enumerated().reversed() {
            let refusal = try await compensate(transfer, branch: branch, gid: gid, order: order)
            guard let refusal else { continue }
            guard branch == gids.count - 1, try await everyActionStandsUncompensated(transfer, gids: gids) else {
                throw OperatorFailed(description: "\(gid): the compensation answered \(refusal)")
            }
            return (.committed, "branch \(branch) cannot be compensated (\(refusal)); every branch stands: committed by the chaos operator")
        }
        return (.compensated, "each branch compensated by the chaos operator")
    }

    /// Whether each branch's action is posted in its bank and no compensation is.
    private func everyActionStandsUncompensated(_ transfer: ChaosTransfer, gids: [String]) async throws -> Bool {
        for (branch, gid) in gids.enumerated() {
            let kinds = try await deployment.pools[transfer.bank(ofBranch: branch)].query("SELECT kind FROM postings WHERE gid = $1", [gid])
                .map { try $0.decode(String.self, column: "kind") }
            guard kinds == [ChaosTransfer.actionKinds[branch]] else { return false }
        }
        return true
    }

    /// Nil when compensated (or nothing to compensate); else the participant's refusal.
    private func compensate(
        _ transfer: ChaosTransfer, branch: Int, gid: String, order: (key: SigningKey, decisionLSN: UInt64)
    ) async throws -> String? {
        let bank = transfer.bank(ofBranch: branch)
        let port = await deployment.bankPort(bank)
        let payload = transfer.branches[branch].payload
        var request = Settle_V1_CompensateRequest()
        request.gid = gid
        request.compensation = ChaosTransfer.compensationKinds[branch]
        request.payload = Data(payload.utf8)
        let signed = SignedOrder(
            command: .compensate, participant: ChaosDeployment.bankNames[bank], gid: gid, decisionLSN: order.decisionLSN,
            work: SignedOrder.workDigest(name: request.compensation, payload: request.payload)
        )
        request.order.decisionLsn = order.decisionLSN
        request.order.signature = Data(try signed.signature(with: order.key))
        return try await withGRPCClient(
            transport: .http2NIOPosix(target: .ipv4(address: deployment.network.bankAddresses[bank], port: port), transportSecurity: .plaintext)
        ) { client in
            let participant = Settle_V1_Participant.Client(wrapping: client)
            let answer = try await participant.compensate(
                request, metadata: ["authorization": "Bearer \(ChaosDeployment.bankToken(bank))"]
            )
            return answer.outcome == .compensated || answer.outcome == .empty ? nil : "\(answer.outcome): \(answer.reason)"
        }
    }

    struct OperatorFailed: Error, CustomStringConvertible {
        let description: String
    }
}
