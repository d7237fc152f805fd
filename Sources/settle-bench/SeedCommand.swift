import ArgumentParser
import PostgresClient

/// Creates ExampleBank's tables and the benchmark's accounts in both databases.
struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed", abstract: "Create the transfer benchmark's accounts in two databases."
    )

    @Option(name: .customLong("database-urls"), help: "The two PostgreSQL URLs, separated by a space.")
    var databaseURLs: String

    func run() async throws {
        let pools = try TwoDatabases(databaseURLs, connections: 1).pools
        try await BenchAccounts.seed(pools)
        for pool in pools { await pool.close() }
    }
}

/// Parses the benchmark's `--database-urls` (exactly two).
struct TwoDatabases {
    let pools: [PostgresPool]

    init(_ urls: String, connections: Int) throws {
        let parts = urls.split(separator: " ").map(String.init)
        guard parts.count == 2 else { throw ValidationError("--database-urls takes exactly two URLs") }
        pools = parts.map { PostgresPool(configuration: .init(connectionString: $0, connectionsMax: connections)) }
    }
}
