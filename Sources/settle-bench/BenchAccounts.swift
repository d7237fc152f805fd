import ExampleBank
import PostgresClient

/// The accounts every system in the transfer benchmark moves money between: worker w debits
/// "a<w>" in the first database and credits "b<w>" in each of the others, so no two workers ever
/// wait for each other's row locks and the comparison measures each system, not lock contention
/// (which under 2PC spans databases and is broken only by a deadlock detector or a deadline).
enum BenchAccounts {
    /// Workers at most: each needs its own pair (the bulk cell runs 512).
    static let count = 1024
    /// Small enough that every bank's total (`count` accounts) sums in an Int64.
    static let openingBalance: Int64 = 1_000_000_000_000
    /// One cent to each credited bank per transfer.
    static let amount: Int64 = 1

    /// The hot-merchant workload: this many payers, and one merchant everyone pays. The merchant is
    /// a pooled account (credited by appending deposits, `MovementSQL`), as a bank would keep it.
    static let payerCount = 64
    static let merchant = "b0"

    static func debitAccount(_ worker: Int) -> String { "a\(worker)" }
    static func creditAccount(_ worker: Int) -> String { "b\(worker)" }

    /// What the first bank's debit takes when `banks` banks take part: one `amount` for each credit.
    static func debitAmount(banks: Int) -> Int64 { amount * Int64(banks - 1) }

    /// `merchantPooled` false: the merchant's row is updated in place, so every credit to it
    /// holds that one row until its commit (the hot-row shape).
    static func seed(_ pools: [PostgresPool], merchantPooled: Bool = true) async throws {
        for (index, pool) in pools.enumerated() {
            try await BankSchema.migrate(pool)
            try await pool.query("TRUNCATE postings")
            try await BankSchema.seed(
                pool,
                accounts: (0..<count).map { (index == 0 ? debitAccount($0) : creditAccount($0), openingBalance) },
                pooled: index == 0 || !merchantPooled ? [] : [merchant]
            )
        }
    }
}
