import ExampleBank
import Foundation
import GRPCCore
import PostgresClient
import SettleProtocol
import SettleTestSupport
import Testing

/// ExampleBank's pooled accounts (a merchant every customer pays): credits append deposits and
/// lock nothing another credit or a withdrawal needs; a withdrawal folds the committed deposits
/// into the balance row first. Lock waits are bounded at half a second, so a credit that queued
/// on the account row would fail here rather than wait.
@Suite("ExampleBank pooled accounts", .timeLimit(.minutes(3)))
struct PooledAccountTests {
    static func withPooledMerchant(_ body: (Bank) async throws -> Void) async throws {
        try await withBank(configure: { $0.actionLockTimeout = .milliseconds(500) }) { bank throws in
            try await BankSchema.seed(bank.pool, accounts: [("m", 0)], pooled: ["m"])
            try await body(bank)
        }
    }

    func rowBalance(_ bank: Bank, _ account: String) async throws -> Int64 {
        try await bank.pool.query("SELECT balance FROM accounts WHERE id = $1", [account])[0].decode(column: "balance")
    }

    @Test func creditsToAPooledAccountAreAllPreparedAtOnce() async throws {
        try await Self.withPooledMerchant { bank throws in
            for index in 1...3 {
                let answer = try await bank.client.prepare(gid("pooled-pay-\(index)", 1), "credit", movement("m", 10))
                #expect(answer.outcome == .prepared, "\(answer.reason)")
            }
            #expect(try await bank.prepared().count == 3, "three credits of one account held at once")
            for index in 1...3 { #expect(try await bank.client.commit(gid("pooled-pay-\(index)", 1)) == .committed) }
            #expect(try await bank.balance("m") == 30)
            #expect(try await rowBalance(bank, "m") == 0, "the deposits are not folded before a withdrawal")
            #expect(try await BankSchema.totalBalance(bank.pool) == 1000 + 500 + 30)
        }
    }

    @Test func aWithdrawalFoldsCommittedDepositsAndCannotSpendPreparedOnes() async throws {
        try await Self.withPooledMerchant { bank throws in
            _ = try await bank.client.prepare(gid("pooled-awfcdacspo-in", 1), "credit", movement("m", 40))
            #expect(try await bank.client.commit(gid("pooled-awfcdacspo-in", 1)) == .committed)
            // Prepared, not committed: not spendable, and the withdrawal does not wait for it.
            #expect(try await bank.client.prepare(gid("pooled-awfcdacspo-pending", 1), "credit", movement("m", 100)).outcome == .prepared)
            let tooMuch = try await bank.client.prepare(gid("pooled-awfcdacspo-payout-1"), "debit", movement("m", 41))
            #expect(tooMuch.outcome == .refused)
            #expect(tooMuch.reason.contains("insufficient funds in m: balance 40, needs 41"), "\(tooMuch.reason)")
            let payout = try await bank.client.prepare(gid("pooled-awfcdacspo-payout-2"), "debit", movement("m", 25))
            #expect(payout.outcome == .prepared, "\(payout.reason)")
            #expect(try await bank.client.commit(gid("pooled-awfcdacspo-payout-2")) == .committed)
            #expect(try await rowBalance(bank, "m") == 15, "40 folded in, 25 paid out")
            #expect(try await bank.client.commit(gid("pooled-awfcdacspo-pending", 1)) == .committed)
            #expect(try await bank.balance("m") == 115)
            #expect(try await BankSchema.totalBalance(bank.pool) == 1000 + 500 + 40 + 100 - 25)
        }
    }

    @Test func aRefusedWithdrawalLeavesTheDepositsWhereTheyWere() async throws {
        try await Self.withPooledMerchant { bank throws in
            _ = try await bank.client.prepare(gid("pooled-arwltdwtw-in", 1), "credit", movement("m", 10))
            #expect(try await bank.client.commit(gid("pooled-arwltdwtw-in", 1)) == .committed)
            #expect(try await bank.client.prepare(gid("pooled-arwltdwtw-out"), "debit", movement("m", 11)).outcome == .refused)
            #expect(try await bank.balance("m") == 10)
            #expect(try await bank.pool.query("SELECT gid FROM deposits").count == 1, "the fold was rolled back with the refusal")
        }
    }

    @Test func aCompensationReversesAPooledCreditExactly() async throws {
        try await Self.withPooledMerchant { bank throws in
            _ = try await bank.client.prepare(gid("pooled-acrapce-sale", 1), "credit", movement("m", 60))
            #expect(try await bank.client.commit(gid("pooled-acrapce-sale", 1)) == .committed)
            let undone = try await bank.client.compensate(gid("pooled-acrapce-sale", 1), "reverse-credit", movement("m", 60))
            #expect(undone.outcome == .compensated, "\(undone.reason)")
            #expect(try await bank.balance("m") == 0)
            #expect(try await bank.postings(gid("pooled-acrapce-sale", 1)) == ["credit", "reverse-credit"])
        }
    }

    @Test func aCreditToAnUnknownAccountIsRefused() async throws {
        try await Self.withPooledMerchant { bank throws in
            let answer = try await bank.client.prepare(gid("pooled-actauair-nobody", 1), "credit", movement("nobody", 10))
            #expect(answer.outcome == .refused)
            #expect(answer.reason.contains("unknown account nobody"), "\(answer.reason)")
        }
    }

    /// A bank restarts while its branches are prepared: the migration must not wait for their locks
    /// (it would never start again). Fails if the migration runs DDL on a current schema.
    @Test func migratingACurrentSchemaDoesNotWaitForPreparedBranches() async throws {
        try await Self.withPooledMerchant { bank throws in
            #expect(try await bank.client.prepare(gid("pooled-macsdnwfpb-held", 1), "credit", movement("m", 10)).outcome == .prepared)
            #expect(try await bank.client.prepare(gid("pooled-macsdnwfpb-held", 0), "debit", movement("a", 10)).outcome == .prepared)
            let migration = Task { try await BankSchema.migrate(bank.pool) }
            let finishedWhileHeld = try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await migration.value; return true
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(20)); return false
                }
                let first = try await group.next() ?? false
                // Ending the branches releases a migration that waits for them, so the group can end.
                #expect(try await bank.client.commit(gid("pooled-macsdnwfpb-held", 1)) == .committed)
                #expect(try await bank.client.commit(gid("pooled-macsdnwfpb-held", 0)) == .committed)
                group.cancelAll()
                return first
            }
            #expect(finishedWhileHeld, "the migration waited for the prepared branches' locks")
        }
    }

    /// `example-bank --pooled` marks seeded accounts pooled: two credits to the merchant are held
    /// prepared at once (the second would wait for the first's row lock were it credited in place).
    @Test func theExecutableSeedsPooledAccounts() async throws {
        let database = try await ScratchDatabase.create()
        defer { Task { await database.drop() } }
        let bank = try ExampleBankProcess(databaseURL: database.url, arguments: ["--seed", "shop=0,alice=50", "--pooled", "shop"])
        try await bank.withClient { client throws in
            #expect(try await client.prepare(gid("pooled-cli-1", 1), "credit", movement("shop", 5)).outcome == .prepared)
            #expect(try await client.prepare(gid("pooled-cli-2", 1), "credit", movement("shop", 5)).outcome == .prepared)
            #expect(try await client.commit(gid("pooled-cli-1", 1)) == .committed)
            #expect(try await client.commit(gid("pooled-cli-2", 1)) == .committed)
        }
        bank.process.terminate()
        bank.process.waitUntilExit()
        let pool = PostgresPool(configuration: .init(connectionString: database.url, connectionsMax: 1))
        let pooled: Bool = try await pool.query("SELECT pooled FROM accounts WHERE id = 'shop'")[0].decode(column: "pooled")
        #expect(pooled)
        #expect(try await BankSchema.balance(pool, account: "shop") == 10)
        await pool.close()
    }

    @Test func pooledAccountsMustBeSeeded() async throws {
        let database = try await ScratchDatabase.create()
        defer { Task { await database.drop() } }
        #expect(throws: (any Error).self) { try ExampleBankProcess(databaseURL: database.url, arguments: ["--pooled", "shop"]) }
    }
}
