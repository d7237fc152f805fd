import PostgresClient
import SettleTestSupport
import Testing

@Suite("pipeline mode sends several statements in one round trip")
struct PipelineTests {
    @Test func resultsComeBackInOrder() async throws {
        let connection = try await TestClusters.connect()
        let table = TestClusters.uniqueName("pipeline")
        try await connection.query("CREATE TABLE \(table) (id int8 PRIMARY KEY, note text)")
        let results = try await connection.pipeline([
            PostgresStatement("INSERT INTO \(table) VALUES ($1, $2)", [1, "one"]),
            PostgresStatement("INSERT INTO \(table) VALUES ($1, $2)", [2, "two"]),
            PostgresStatement("SELECT note FROM \(table) ORDER BY id"),
            PostgresStatement("SELECT $1::int8 * 2 AS doubled", [21]),
        ])
        #expect(results.count == 4)
        #expect(try results[0].get().affectedRows == 1)
        #expect(try results[1].get().commandTag == "INSERT 0 1")
        #expect(try results[2].get().map { try $0.decode(String.self, column: 0) } == ["one", "two"])
        #expect(try results[3].get()[0].decode(Int64.self, column: "doubled") == 42)
        #expect(connection.transactionStatus == .idle)
        try await connection.query("DROP TABLE \(table)")
    }

    @Test func aFailureAbortsTheRestAndRollsBackTheImplicitTransaction() async throws {
        let connection = try await TestClusters.connect()
        let table = TestClusters.uniqueName("pipeline_fail")
        try await connection.query("CREATE TABLE \(table) (id int8 PRIMARY KEY)")
        let results = try await connection.pipeline([
            PostgresStatement("INSERT INTO \(table) VALUES (1)"),
            PostgresStatement("INSERT INTO \(table) VALUES (1)"),
            PostgresStatement("INSERT INTO \(table) VALUES (2)"),
        ])
        #expect(throws: Never.self) { try results[0].get() }
        #expect(throws: PostgresError.self) { try results[1].get() }
        if case .failure(let duplicate) = results[1] { #expect(duplicate.code == .uniqueViolation) }
        if case .failure(let skipped) = results[2] {
            #expect(skipped.code == .pipelineAborted)
        } else {
            Issue.record("third statement should not have run")
        }
        #expect(try await connection.query("SELECT count(*)::int8 FROM \(table)")[0].decode(Int64.self, column: 0) == 0)
        // The session left pipeline mode cleanly and serves ordinary statements.
        #expect(try await connection.query("SELECT 1::int4")[0].decode(Int32.self, column: 0) == 1)
        try await connection.query("DROP TABLE \(table)")
    }

    @Test func manyStatementsDoNotDeadlock() async throws {
        let connection = try await TestClusters.connect()
        // Large enough to fill socket buffers in both directions if sending blocked without reading.
        let payload = String(repeating: "x", count: 8192)
        let statements = (0..<400).map { PostgresStatement("SELECT $1::text AS echoed, $2::int8 AS n", [payload, $0]) }
        let results = try await connection.pipeline(statements)
        #expect(results.count == 400)
        #expect(try results[399].get()[0].decode(Int64.self, column: "n") == 399)
        #expect(try results[0].get()[0].decode(String.self, column: "echoed") == payload)
    }
}
