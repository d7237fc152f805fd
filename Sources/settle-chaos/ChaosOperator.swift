import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SettleClient
import SettleProtocol

/// The operator's step after the storm, for whatever got stuck: each branch's compensation is run
/// once more straight at its participant (the barrier makes it exactly once: a compensation that
/// already ran answers COMPENSATED without running, and one whose action never ran is EMPTY), then
/// the decision is recorded with Resolve. The invariants then hold the operator to it: a transfer
/// resolved as compensated must have left no net effect.
struct ChaosOperator {
    let deployment: ChaosDeployment
    let apiPort: Int

    /// The outcome each stuck transfer has after the operator resolved it, by index.
    func resolveStuck(_ transfers: [ChaosTransfer], _ outcomes: [WorkloadRunner.Outcome]) async throws -> [Int: WorkloadRunner.Outcome] {
        var resolved: [Int: WorkloadRunner.Outcome] = [:]
        for (index, outcome) in outcomes.enumerated() where outcome.state == .stuck {
            let transfer = transfers[index]
            for (branch, gid) in outcome.gids.enumerated() {
                try await compensate(transfer, branch: branch, gid: gid)
            }
            let after = try await SettleClient.withClient(host: "127.0.0.1", port: apiPort, token: ChaosDeployment.clientToken) {
                try await $0.resolve(
                    id: transfer.id, outcome: .compensated, reason: "each branch compensated by the chaos operator", operator: "chaos-operator"
                )
            }
            resolved[index] = WorkloadRunner.Outcome(
                state: after.state, reason: after.reason, path: after.path, attempts: outcome.attempts, gids: outcome.gids
            )
        }
        return resolved
    }

    private func compensate(_ transfer: ChaosTransfer, branch: Int, gid: String) async throws {
        let bank = transfer.bank(ofBranch: branch)
        let port = await deployment.bankPort(bank)
        let payload = transfer.branches[branch].payload
        try await withGRPCClient(
            transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
        ) { client in
            let participant = Settle_V1_Participant.Client(wrapping: client)
            let answer = try await participant.compensate(
                .with {
                    $0.gid = gid
                    $0.compensation = ChaosTransfer.compensationKinds[branch]
                    $0.payload = Data(payload.utf8)
                },
                metadata: ["authorization": "Bearer \(ChaosDeployment.bankNames[bank])-chaos-token-0123456789"]
            )
            guard answer.outcome == .compensated || answer.outcome == .empty else {
                throw OperatorFailed(description: "\(gid): the compensation answered \(answer.outcome): \(answer.reason)")
            }
        }
    }

    struct OperatorFailed: Error, CustomStringConvertible {
        let description: String
    }
}
