import ArgumentParser
import ExampleBank
import PostgresClient

/// Nothing lost: after a run, the money in all the banks together is what `seed` put there (every
/// transfer moved as much into the credited banks as it took from the debited one, or nothing),
/// and no branch is left prepared.
struct BooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "books", abstract: "Check that the benchmark's banks together hold what seed gave them, with nothing prepared."
    )

    @Option(name: .customLong("database-urls"), help: "The PostgreSQL URLs seed was given, in the same order.")
    var databaseURLs: String

    func run() async throws {
        let pools = try BenchDatabases(databaseURLs, connections: 1).pools
        var total: Int64 = 0
        var prepared = 0
        for pool in pools {
            total += try await BankSchema.totalBalance(pool)
            prepared += try await pool.withConnection { try await $0.preparedTransactions() }.count
            await pool.close()
        }
        let seeded = Int64(pools.count * BenchAccounts.count) * BenchAccounts.openingBalance
        print(#"{"banks": \#(pools.count), "total": \#(total), "seeded": \#(seeded), "prepared": \#(prepared)}"#)
        guard total == seeded, prepared == 0 else { throw ExitCode.failure }
    }
}
