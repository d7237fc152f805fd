import ExampleBank
import Foundation
import PostgresClient
import SettleCore
import SettleProtocol

/// docs/design.md's invariants ("Testing and measuring"), checked against what the databases, the
/// coordinator and the log hold once the storm is over. Each check names its first offenders.
struct InvariantChecks {
    let transfers: [ChaosTransfer]
    let outcomes: [WorkloadRunner.Outcome]
    let deployment: ChaosDeployment
    /// Each transfer's branch gids, as the coordinator reported them, by transfer index.
    private let gids: [[String]]

    init(transfers: [ChaosTransfer], outcomes: [WorkloadRunner.Outcome], deployment: ChaosDeployment) {
        self.transfers = transfers
        self.outcomes = outcomes
        self.deployment = deployment
        gids = outcomes.map(\.gids)
    }

    struct Result {
        let name: String
        let failures: [String]
        let detail: String
        var passed: Bool { failures.isEmpty }
    }

    /// One bank's postings: gid → kind → amount (signed, minor units).
    typealias Postings = [String: [String: Int64]]

    func databaseChecks() async throws -> [Result] {
        var postings: [Postings] = []
        var balances: [[String: Int64]] = []
        for pool in deployment.pools {
            var bank: Postings = [:]
            for row in try await pool.query("SELECT gid, kind, amount FROM postings") {
                bank[try row.decode(String.self, column: "gid"), default: [:]][try row.decode(String.self, column: "kind")] =
                    try row.decode(Int64.self, column: "amount")
            }
            postings.append(bank)
            balances.append(try await BankSchema.balances(pool))
        }
        return [
            conservation(balances),
            try await nothingPrepared(),
            committedArePosted(postings),
            abortedLeftNothing(postings),
            ledgersAgree(postings, balances),
            noStrangers(postings),
            gidsAreUnique(),
            try await ordersBackEveryEffect(postings),
        ]
    }

    /// Each gid names one branch of one admission: none is shared by two transfers, and each is
    /// well formed, under this coordinator, and names its own transfer and branch.
    private func gidsAreUnique() -> Result {
        var owner: [String: String] = [:]
        var failures: [String] = []
        for (transfer, branchGIDs) in zip(transfers, gids) {
            if branchGIDs.count != 2 { failures.append("\(transfer.id): \(branchGIDs.count) gids reported") }
            for (index, gid) in branchGIDs.enumerated() {
                if let other = owner.updateValue(transfer.id, forKey: gid) {
                    failures.append("\(gid) is reported by \(other) and by \(transfer.id)")
                }
                let parsed = try? BranchGID(parsing: gid)
                if parsed?.transferID != transfer.id || parsed?.branchIndex != index
                    || parsed?.coordinatorID != ChaosDeployment.coordinatorID
                {
                    failures.append("\(transfer.id) branch \(index): gid \(gid) does not name it")
                }
            }
        }
        return Result(name: "no gid appears in two transfers", failures: failures, detail: "\(owner.count) gids")
    }

    private func conservation(_ balances: [[String: Int64]]) -> Result {
        let total = balances.reduce(Int64(0)) { $0 + $1.values.reduce(0, +) }
        return Result(
            name: "the sum of all balances across the three banks is unchanged",
            failures: total == ChaosDeployment.expectedTotal ? [] : ["total \(total), expected \(ChaosDeployment.expectedTotal)"],
            detail: "\(total) minor units before and after"
        )
    }

    private func nothingPrepared() async throws -> Result {
        let prepared = try await deployment.preparedUnderPrefix()
        return Result(
            name: "pg_prepared_xacts holds nothing under \(try BranchGID.prefix(coordinatorID: ChaosDeployment.coordinatorID))",
            failures: prepared, detail: "\(prepared.count) prepared in 3 clusters"
        )
    }

    private func committedArePosted(_ postings: [Postings]) -> Result {
        var failures: [String] = []
        var count = 0
        for (index, (transfer, outcome)) in zip(transfers, outcomes).enumerated() where outcome.state == .committed {
            count += 1
            for branch in 0..<2 {
                let kinds = postings[transfer.bank(ofBranch: branch)][gids[index][branch]] ?? [:]
                let signed = branch == 0 ? -transfer.amount : transfer.amount
                if kinds != [ChaosTransfer.actionKinds[branch]: signed] {
                    failures.append("\(transfer.id) branch \(branch): postings \(kinds)")
                }
            }
        }
        return Result(name: "every COMMITTED transfer is posted in both of its banks", failures: failures, detail: "\(count) committed")
    }

    private func abortedLeftNothing(_ postings: [Postings]) -> Result {
        var failures: [String] = []
        var count = 0
        for (index, (transfer, outcome)) in zip(transfers, outcomes).enumerated()
        where outcome.state == .aborted || outcome.state == .compensated {
            count += 1
            for branch in 0..<2 {
                let kinds = postings[transfer.bank(ofBranch: branch)][gids[index][branch]] ?? [:]
                // Aborted: nothing at all. Compensated: nothing, or exactly this transfer's action
                // and its compensation, each of this transfer's own amount.
                let signed = branch == 0 ? -transfer.amount : transfer.amount
                let undone = [ChaosTransfer.actionKinds[branch]: signed, ChaosTransfer.compensationKinds[branch]: -signed]
                let allowed = outcome.state == .compensated ? [[:], undone] : [[:]]
                if !allowed.contains(kinds) {
                    failures.append("\(transfer.id) (\(outcome.state)) branch \(branch): postings \(kinds)")
                }
            }
        }
        return Result(name: "every ABORTED or COMPENSATED transfer left no net effect", failures: failures, detail: "\(count) checked")
    }

    private func ledgersAgree(_ postings: [Postings], _ balances: [[String: Int64]]) -> Result {
        var failures: [String] = []
        for bank in balances.indices {
            var expected = balances[bank].mapValues { _ in ChaosDeployment.openingBalance }
            for (index, transfer) in transfers.enumerated() {
                for branch in 0..<2 where transfer.bank(ofBranch: branch) == bank {
                    let account = branch == 0 ? transfer.debitAccount : transfer.creditAccount
                    expected[account, default: 0] += (postings[bank][gids[index][branch]] ?? [:]).values.reduce(0, +)
                }
            }
            for (account, balance) in balances[bank] where expected[account] != balance {
                failures.append("\(ChaosDeployment.bankNames[bank]) \(account): balance \(balance), postings say \(expected[account] ?? 0)")
            }
        }
        return Result(
            name: "every account's balance is its opening balance plus its postings", failures: failures,
            detail: "\(balances.reduce(0) { $0 + $1.count }) accounts"
        )
    }

    private func noStrangers(_ postings: [Postings]) -> Result {
        let known = Set(gids.joined())
        let strangers = postings.flatMap { $0.keys }.filter { !known.contains($0) }
        return Result(
            name: "no posting belongs to a transfer nobody submitted", failures: strangers,
            detail: "\(postings.reduce(0) { $0 + $1.count }) posted branches"
        )
    }
}
