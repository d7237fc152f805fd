import PostgresClient
import SettleTestSupport
import Testing

/// Statements with parameters become named statements of their session, parsed once; errors and
/// pipelines behave as without them.
@Suite("named prepared statements per session")
struct StatementCacheTests {
    static func namedStatements(_ connection: PostgresConnection) async throws -> [String] {
        try await connection.query("SELECT statement FROM pg_prepared_statements WHERE name LIKE 'settle_%' ORDER BY name")
            .map { try $0.decode(String.self, column: 0) }
    }

    @Test func aStatementWithParametersIsPreparedOnceAndReused() async throws {
        let connection = try await TestClusters.connect()
        for value: Int64 in [1, 2, 3] {
            #expect(try await connection.query("SELECT $1::int8 + 1 AS next", [value])[0].decode(Int64.self, column: "next") == value + 1)
        }
        let results = try await connection.pipeline([
            PostgresStatement("SELECT $1::int8 + 1 AS next", [41]), PostgresStatement("SELECT $1::text AS echoed", ["x"]),
        ])
        #expect(try results[0].get()[0].decode(Int64.self, column: "next") == 42)
        #expect(try results[1].get()[0].decode(String.self, column: "echoed") == "x")
        #expect(try await Self.namedStatements(connection) == ["SELECT $1::int8 + 1 AS next", "SELECT $1::text AS echoed"])
    }

    /// A statement repeated within one pipeline, on a session that has not prepared it yet, is
    /// prepared once (each repetition used to prepare its own copy, never used again).
    @Test func aStatementRepeatedInOnePipelineIsPreparedOnce() async throws {
        let connection = try await TestClusters.connect()
        let results = try await connection.pipeline((0..<5).map { PostgresStatement("SELECT $1::int8 * 2 AS doubled", [Int64($0)]) })
        #expect(try results.map { try $0.get()[0].decode(Int64.self, column: "doubled") } == [0, 2, 4, 6, 8])
        #expect(try await Self.namedStatements(connection) == ["SELECT $1::int8 * 2 AS doubled"])
        #expect(try await connection.query("SELECT $1::int8 * 2 AS doubled", [21])[0].decode(Int64.self, column: "doubled") == 42)
        #expect(try await Self.namedStatements(connection).count == 1, "and reused afterwards")
    }

    /// A statement the server cannot prepare reports the server's error, not "an earlier statement
    /// failed", and is not remembered: the next, valid statement prepares and runs.
    @Test func aFailedPrepareReportsItsOwnErrorAndIsForgotten() async throws {
        let connection = try await TestClusters.connect()
        let results = try await connection.pipeline([
            PostgresStatement("SELECT $1::int8 FROM no_such_table_here", [1]), PostgresStatement("SELECT $1::int8 AS one", [1]),
        ])
        guard case .failure(let missing) = results[0] else { Issue.record("the missing table must fail"); return }
        #expect(missing.sqlState == "42P01" && missing.code != .pipelineAborted, "\(missing)")
        guard case .failure(let skipped) = results[1] else { Issue.record("the rest of the pipeline is skipped"); return }
        #expect(skipped.code == .pipelineAborted)
        #expect(try await connection.query("SELECT $1::int8 AS one", [1])[0].decode(Int64.self, column: "one") == 1)
        #expect(try await Self.namedStatements(connection) == ["SELECT $1::int8 AS one"])
        await #expect(throws: PostgresError.self) { try await connection.query("SELECT $1::int8 FROM no_such_table_here", [1]) }
    }

    /// SQL can drop a session's named statements behind the cache (`DEALLOCATE ALL`, `DISCARD
    /// ALL`, a service's own handler doing either): the cache follows, and a statement whose name
    /// is gone anyway (dropped by name) fails once and is prepared afresh the next time, instead
    /// of failing on that connection for good.
    @Test func statementsDroppedBySQLArePreparedAgain() async throws {
        let connection = try await TestClusters.connect()
        let sql = "SELECT $1::int8 + 1 AS next"
        #expect(try await connection.query(sql, [1])[0].decode(Int64.self, column: "next") == 2)
        _ = try await connection.query("DEALLOCATE ALL")
        #expect(try await connection.query(sql, [2])[0].decode(Int64.self, column: "next") == 3)
        _ = try await connection.query("DISCARD ALL")
        #expect(try await connection.query(sql, [3])[0].decode(Int64.self, column: "next") == 4)

        // Dropped where the command tag does not say so (a DO block): one failure, then afresh.
        let name = try #require(try await connection.query("SELECT name FROM pg_prepared_statements").first?.decode(String.self, column: 0))
        _ = try await connection.query("DO $$ BEGIN EXECUTE 'DEALLOCATE \(name)'; END $$")
        await #expect(throws: PostgresError.self) { try await connection.query(sql, [4]) }
        #expect(try await connection.query(sql, [5])[0].decode(Int64.self, column: "next") == 6)
        #expect(try await connection.pipeline([PostgresStatement(sql, [6])])[0].get()[0].decode(Int64.self, column: "next") == 7)
    }

    @Test func capacityZeroPreparesNothing() async throws {
        let connection = try await PostgresConnection.connect(to: try TestClusters.url(0), statementCacheCapacity: 0)
        #expect(try await connection.query("SELECT $1::int8 AS one", [1])[0].decode(Int64.self, column: "one") == 1)
        #expect(try await Self.namedStatements(connection).isEmpty)
    }
}
