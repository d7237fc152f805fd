import ArgumentParser
import ExampleBank
import Foundation
import PostgresClient
import Synchronization

/// The floor: ExampleBank's own debit and credit SQL, prepared in every database at once and then
/// committed in every one at once, straight over libpq. No coordinator, no log, no barrier, no RPC —
/// and no recovery: a crash between the two COMMIT PREPAREDs leaves a branch prepared that
/// nothing will ever resolve.
struct FloorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "floor", abstract: "Transfers with PREPARE TRANSACTION / COMMIT PREPARED directly over libpq."
    )

    @OptionGroup var load: LoadOptions

    @Option(name: .customLong("database-urls"), help: "The PostgreSQL URLs, separated by spaces; the first is debited.")
    var databaseURLs: String

    func run() async throws {
        let pools = try BenchDatabases(databaseURLs, connections: load.concurrency).pools
        try load.validate(banks: pools.count)
        let run = UInt32.random(in: 0...UInt32.max)
        let held = Mutex<(total: Duration, count: Int)>((.zero, 0))
        let debitAmount = BenchAccounts.debitAmount(banks: pools.count)
        var result = await load.transferLoad(system: pools.count == 2 ? "floor" : "floor-\(pools.count)").run { worker, sequence in
            let gid = "floor:\(run):\(worker):\(sequence)"
            let accounts = load.accounts(worker: worker)
            let debit = { @Sendable in
                try await Self.prepare(
                    pools[0], gid: gid, account: accounts.debit, kind: "debit",
                    MovementSQL.withdrawal(account: accounts.debit, amount: debitAmount, gid: gid, kind: "debit")
                )
            }
            let creditPrepared = Mutex<ContinuousClock.Instant?>(nil)
            let credit = { @Sendable (pool: PostgresPool) in
                try await Self.prepare(
                    pool, gid: gid, account: accounts.credit, kind: "credit",
                    MovementSQL.depositing(account: accounts.credit, amount: BenchAccounts.amount, gid: gid, kind: "credit")
                )
                if pool === pools[1] { creditPrepared.withLock { $0 = .now } }
            }
            if load.hotMerchant {
                // One after the other, as the floor of the contention issue did: holding the merchant
                // implies the payer is already prepared, so no cycle can form (and nothing would
                // break one here).
                try await debit()
                try await credit(pools[1])
            } else {
                try await Self.everywhere(pools) { index, pool in
                    if index == 0 { try await debit() } else { try await credit(pool) }
                }
            }
            try await Self.everywhere(pools) { index, pool in
                try await pool.withConnection { try await $0.commitPrepared(gid: gid) }
                if index == 1, let prepared = creditPrepared.withLock({ $0 }) {
                    held.withLock { $0 = ($0.total + (.now - prepared), $0.count + 1) }
                }
            }
        }
        let (heldTotal, heldCount) = held.withLock { $0 }
        if heldCount > 0 { result.heldMilliseconds = seconds(heldTotal) * 1000 / Double(heldCount) }
        for pool in pools { await pool.close() }
        try TransferLoad.emit(result)
    }

    /// `body` for every bank at once, as a coordinator sends one phase to every branch.
    private static func everywhere(
        _ pools: [PostgresPool], _ body: @escaping @Sendable (Int, PostgresPool) async throws -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, pool) in pools.enumerated() { group.addTask { try await body(index, pool) } }
            try await group.waitForAll()
        }
    }

    /// ExampleBank's movement as it sends it (`MovementSQL.withdrawal` or `depositing`: the
    /// statement before the posting says by its rows whether the money moved), prepared.
    private static func prepare(
        _ pool: PostgresPool, gid: String, account: String, kind: String, _ movement: [PostgresStatement]
    ) async throws {
        // On the connection's thread, as the participant runs a Prepare: the floor gets every
        // saving the client library offers.
        try await pool.withConnection { connection in
            try await connection.withConnectionThread {
                try await connection.withPreparedTransaction(gid: gid) { transaction in
                    let rows = try await transaction.pipeline(movement).map { try $0.get() }
                    guard rows.dropLast().last?.count == 1 else { throw ValidationError("account \(account) refused the \(kind)") }
                }
            }
        }
    }
}

/// Concurrency and timing, the same for every system.
struct LoadOptions: ParsableArguments {
    @Option(help: "Workers, each running one transfer after another.")
    var concurrency = 32

    @Option(help: "Seconds measured, after the warm-up.")
    var seconds = 10

    @Option(help: "Seconds of warm-up, not measured.")
    var warmUp = 2

    @Flag(
        help:
            "Many payers, one merchant: each transfer debits one of \(BenchAccounts.payerCount) payers at the first bank, picked at random, and credits the one merchant at the second."
    )
    var hotMerchant = false

    /// The accounts of one transfer: a worker's own pair, or a random payer and the merchant.
    func accounts(worker: Int) -> (debit: String, credit: String) {
        guard hotMerchant else { return (BenchAccounts.debitAccount(worker), BenchAccounts.creditAccount(worker)) }
        return (BenchAccounts.debitAccount(Int.random(in: 0..<BenchAccounts.payerCount)), BenchAccounts.merchant)
    }

    /// Every worker needs its own accounts, and the merchant lives at the second of two banks.
    func validate(banks: Int) throws {
        guard concurrency <= BenchAccounts.count else { throw ValidationError("--concurrency is at most \(BenchAccounts.count)") }
        guard !hotMerchant || banks == 2 else { throw ValidationError("--hot-merchant takes two banks") }
    }

    func transferLoad(system: String) -> TransferLoad {
        TransferLoad(system: system, concurrency: concurrency, warmUp: .seconds(warmUp), measured: .seconds(seconds))
    }
}
