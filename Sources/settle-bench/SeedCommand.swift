import ArgumentParser
import PostgresClient

/// Creates ExampleBank's tables and the benchmark's accounts in every database.
struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed", abstract: "Create the transfer benchmark's accounts in two to eight databases."
    )

    @Option(name: .customLong("database-urls"), help: "The PostgreSQL URLs, separated by spaces; the first is debited.")
    var databaseURLs: String

    @Flag(help: "The merchant's balance updated in place by every credit, instead of a pooled account.")
    var merchantInPlace = false

    func run() async throws {
        let pools = try BenchDatabases(databaseURLs, connections: 1).pools
        try await BenchAccounts.seed(pools, merchantPooled: !merchantInPlace)
        for pool in pools { await pool.close() }
    }
}

/// Parses the benchmark's `--database-urls`: the debited bank's first, then the credited ones.
struct BenchDatabases {
    let pools: [PostgresPool]

    init(_ urls: String, connections: Int) throws {
        let parts = urls.split(separator: " ").map(String.init)
        guard (2...8).contains(parts.count) else { throw ValidationError("--database-urls takes two to eight URLs") }
        pools = parts.map { PostgresPool(configuration: .init(connectionString: $0, connectionsMax: connections)) }
    }
}
