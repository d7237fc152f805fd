import Foundation
import PostgresClient
import SettleTestSupport
import Testing

@Suite("cancelling a task or passing a deadline cancels the statement on the server")
struct CancellationTests {
    @Test func taskCancellationStopsPgSleepAndThePoolKeepsServing() async throws {
        let pool = PostgresPool(configuration: .init(connectionString: try TestClusters.url(), connectionsMax: 1))
        let marker = TestClusters.uniqueName("sleep_marker")
        let sleeper = Task {
            try await pool.query("SELECT pg_sleep(30), '\(marker)'")
        }
        // Wait until the server is really running it, so the cancel has a statement to hit.
        try await waitUntil { try await isRunning(marker) }
        sleeper.cancel()
        let outcome = await sleeper.result
        #expect(throws: CancellationError.self) { try outcome.get() }
        // Abandoned without a server-side cancel, the statement would still be sleeping.
        #expect(try await isRunning(marker) == false)
        // The single pooled session was handed back usable.
        #expect(try await pool.query("SELECT 2::int4")[0].decode(Int32.self, column: 0) == 2)
        await pool.close()
    }

    /// A pipeline reports each statement's failure in its results; a cancel that cut it short must
    /// still reach the caller as the cancellation it is, not as a statement that failed.
    @Test func aCancelledPipelineThrowsItsCancellation() async throws {
        let connection = try await TestClusters.connect()
        let marker = TestClusters.uniqueName("pipeline_marker")
        let sleeper = Task {
            try await connection.pipeline([PostgresStatement("SELECT pg_sleep(30), '\(marker)'"), PostgresStatement("SELECT 1")])
        }
        try await waitUntil { try await isRunning(marker) }
        sleeper.cancel()
        let outcome = await sleeper.result
        #expect(throws: CancellationError.self) { try outcome.get() }
        #expect(try await connection.query("SELECT 2::int4")[0].decode(Int32.self, column: 0) == 2)
    }

    @Test func timeoutCancelsOnTheServerAndKeepsTheSession() async throws {
        let connection = try await TestClusters.connect()
        let error = try await #require(throws: PostgresError.self) {
            try await connection.query("SELECT pg_sleep(30)", timeout: .milliseconds(200))
        }
        #expect(error.code == .timeout)
        #expect(connection.isBroken == false)
        #expect(try await connection.query("SELECT 3::int4")[0].decode(Int32.self, column: 0) == 3)
    }

    @Test func cancellationInsideATransactionRollsItBack() async throws {
        let pool = PostgresPool(configuration: .init(connectionString: try TestClusters.url(), connectionsMax: 1))
        let table = TestClusters.uniqueName("cancel_tx")
        try await pool.query("CREATE TABLE \(table) (id int8)")
        let marker = TestClusters.uniqueName("tx_marker")
        let writer = Task {
            try await pool.withConnection { connection in
                try await connection.withTransaction { tx in
                    try await tx.query("INSERT INTO \(table) VALUES (1)")
                    try await tx.query("SELECT pg_sleep(30), '\(marker)'")
                }
            }
        }
        try await waitUntil { try await isRunning(marker) }
        writer.cancel()
        _ = await writer.result
        #expect(try await pool.query("SELECT count(*)::int8 FROM \(table)")[0].decode(Int64.self, column: 0) == 0)
        try await pool.query("DROP TABLE \(table)")
        await pool.close()
    }

    @Test func alreadyCancelledTaskDoesNotRunTheStatement() async throws {
        let connection = try await TestClusters.connect()
        let table = TestClusters.uniqueName("never_created")
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await connection.query("CREATE TABLE \(table) (id int8)")
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        let exists = try await connection.query("SELECT to_regclass($1) IS NOT NULL AS present", [table])
        #expect(try exists[0].decode(Bool.self, column: 0) == false)
    }

    private func isRunning(_ marker: String) async throws -> Bool {
        let observer = try await TestClusters.connect()
        let rows = try await observer.query(
            "SELECT count(*)::int8 FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()",
            [marker]
        )
        return try rows[0].decode(Int64.self, column: 0) > 0
    }
}

/// Polls `condition` every 20 ms for up to 10 s; records an issue if it never holds.
