import ExampleBank
import Foundation
import GRPCCore
import SettleProtocol
import SettleTestSupport
import Synchronization
import Testing

@Suite("participant under contention", .timeLimit(.minutes(5)))
struct ConcurrencyTests {
    /// 200 concurrent Prepare+Commit pairs on four hot accounts. Every answer is prepared, a
    /// business refusal, or ABORTED (retried, as the coordinator does); balances end exact.
    @Test func twoHundredConcurrentPairsOnHotAccountsStayExact() async throws {
        try await withBank { bank throws in
            let accounts = ["h0", "h1", "h2", "h3"]
            try await BankSchema.seed(bank.pool, accounts: accounts.map { ($0, 300) })
            let committed = Shared<[String: Int64]>([:])
            let refusals = Shared(0)
            let retries = Shared(0)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        let account = accounts[index % accounts.count]
                        let amount = Int64(1 + (index * 37) % 60)
                        let isDebit = index % 3 != 0
                        let branch = gid("hot-\(index)")
                        for _ in 0..<20 {
                            do {
                                let answer = try await bank.client.prepare(branch, isDebit ? "debit" : "credit", movement(account, amount))
                                if answer.outcome == .refused {
                                    #expect(answer.refusalKind == .business)
                                    refusals.value.withLock { $0 += 1 }
                                    return
                                }
                                #expect(try await bank.phaseTwoClient.commit(branch) == .committed)
                                committed.value.withLock { $0[account, default: 0] += isDebit ? -amount : amount }
                                return
                            } catch let error as RPCError where error.code == .aborted || error.code == .unavailable {
                                // Both mean "nothing was done; retry", as the coordinator does (UNAVAILABLE
                                // here: every pool connection held by prepares queued on the hot rows).
                                retries.value.withLock { $0 += 1 }
                            }
                        }
                        Issue.record("\(branch) was still conflicting after 20 attempts")
                    }
                }
                try await group.waitForAll()
            }
            let deltas = committed.value.withLock { $0 }
            for account in accounts {
                #expect(try await bank.balance(account) == 300 + deltas[account, default: 0], "\(account)")
            }
            #expect(try await bank.prepared().isEmpty)
            let postings = try await bank.pool.query(
                "SELECT account, sum(amount)::bigint AS delta FROM postings GROUP BY account"
            )
            for row in postings {
                let account: String = try row.decode(column: "account")
                #expect(try row.decode(Int64.self, column: "delta") == deltas[account, default: 0])
            }
            let refused = refusals.value.withLock { $0 }
            let barrierRows = try await bank.pool.query("SELECT count(*)::bigint AS n FROM settle_barrier")[0]
                .decode(Int64.self, column: "n")
            #expect(barrierRows == Int64(200 - refused), "one action row per committed branch")
            print("200 pairs: \(200 - refused) committed, \(refused) refused, \(retries.value.withLock { $0 }) retries")
        }
    }
}
