import Foundation
import GRPCCore
import SettleClient
import SettleCore
import SettleProtocol
import SettleTestSupport
import Synchronization
import Testing

@Suite("coordinator end to end: real settled, real ExampleBanks, real PostgreSQL", .timeLimit(.minutes(5)))
struct EndToEndTests {
    /// 1,000 concurrent random transfers, some of them refused for insufficient funds. Every
    /// invariant of docs/design.md holds afterwards.
    @Test func aThousandConcurrentTransfersConserveMoney() async throws {
        try await withDeployment { deployment throws in
            var generator = SystemRandomNumberGenerator()
            let plans = (0..<1000).map { index in
                (
                    id: "e2e-\(index)", fromA: Bool.random(using: &generator), account: Int.random(in: 0..<10, using: &generator),
                    amount: Int64.random(in: 1...4000, using: &generator)
                )
            }
            let outcomes = Shared<[String: Settle_V1_TransferState]>([:])
            let reasons = Shared<[String]>([])
            try await deployment.client { settle in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for plan in plans {
                        group.addTask {
                            let transfer = try await settle.submit(
                                id: plan.id, branches: Deployment.branches(amount: plan.amount, fromA: plan.fromA, account: plan.account),
                                // Opposite transfers on the same accounts deadlock across the two
                                // databases (each holds a row the other needs until its decision);
                                // the detector breaks such cycles, the prepare deadline what it
                                // cannot see.
                                prepareTimeout: .seconds(2), wait: true
                            )
                            outcomes.value.withLock { $0[plan.id] = transfer.state }
                            if transfer.state == .aborted { reasons.value.withLock { $0.append(transfer.reason) } }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let final = outcomes.value.withLock { $0 }
            let committed = final.filter { $0.value == .committed }.map(\.key)
            let aborted = final.filter { $0.value == .aborted }.map(\.key)
            #expect(committed.count + aborted.count == 1000, "every transfer is final: \(Set(final.values))")
            #expect(!committed.isEmpty && !aborted.isEmpty)
            // How long each branch held its rows, by participant: every committed branch counted.
            let metrics = try await deployment.metrics().split(separator: "\n")
            for bank in ["bank-a", "bank-b"] {
                let line = metrics.first { $0.hasPrefix("settle_branch_prepared_duration_count{") && $0.contains(#"participant="\#(bank)""#) }
                let timed = line.flatMap { $0.split(separator: " ").last.flatMap { Double($0) } } ?? 0
                #expect(timed >= Double(committed.count), "\(bank): \(line ?? "no settle_branch_prepared_duration")")
            }
            // Every transfer, not a sample: each committed one posted in both banks, each aborted
            // one in neither, money conserved, nothing prepared, the log verified.
            try await expectEveryInvariant(deployment)
            let abortReasons = reasons.value.withLock { $0 }
            let funds = abortReasons.filter { $0.contains("insufficient funds") }.count
            let deadline = abortReasons.filter { $0.contains("prepare deadline passed") }.count
            let deadlocks = abortReasons.filter { $0.contains("deadlock with transfer") || $0.contains("waits for another branch") }.count
            #expect(funds + deadline + deadlocks == abortReasons.count, "unexpected abort reasons: \(Set(abortReasons).prefix(5))")
            print(
                "1000 transfers: \(committed.count) committed, \(aborted.count) aborted (\(funds) insufficient funds, "
                    + "\(deadlocks) deadlocks broken, \(deadline) prepare deadline)"
            )
        }
    }

    @Test func submitIsIdempotentAndAuthenticated() async throws {
        try await withDeployment { deployment throws in
            let branches = Deployment.branches(amount: 10, fromA: true, account: 1)
            let first = try await deployment.client { try await $0.submit(id: "same", branches: branches, wait: true) }
            #expect(first.state == .committed)
            let again = try await deployment.client { try await $0.submit(id: "same", branches: branches, wait: true) }
            #expect(again.state == .committed)
            #expect(again.submittedAtUnixMs == first.submittedAtUnixMs)
            #expect(try await deployment.postingCounts("same") == [1, 1], "the second submit did nothing")
            let conflicting = Deployment.branches(amount: 11, fromA: true, account: 1)
            let conflict = await #expect(throws: RPCError.self) {
                _ = try await deployment.client { try await $0.submit(id: "same", branches: conflicting) }
            }
            #expect(conflict?.code == .alreadyExists)
            #expect(conflict?.message.contains("different branch 0") == true, "names the difference: \(conflict?.message ?? "")")
            let unauthenticated = await #expect(throws: RPCError.self) {
                try await SettleClient.withClient(host: "127.0.0.1", port: deployment.apiPort, token: "wrong-token-0123456789") {
                    _ = try await $0.get(id: "same")
                }
            }
            #expect(unauthenticated?.code == .unauthenticated)
            let shown = try await deployment.client { try await $0.get(id: "same") }
            let gids = try shown.branches.map { try BranchGID(parsing: $0.gid) }
            #expect(gids.map(\.transferID) == ["same", "same"] && gids.map(\.branchIndex) == [0, 1])
            #expect(gids.allSatisfy { $0.coordinatorID == deployment.coordinatorID && $0.admission == gids[0].admission })
            #expect(shown.branches.map(\.gid) == first.branches.map(\.gid), "an idempotent resubmission keeps its admission")
            let listed = try await deployment.client { try await $0.list(states: [.committed]) }
            #expect(listed.transfers.map(\.transferID) == ["same"])
            try await expectEveryInvariant(deployment)
        }
    }
}
