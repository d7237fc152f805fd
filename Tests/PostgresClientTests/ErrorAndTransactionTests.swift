import PostgresClient
import SettleTestSupport
import Testing

@Suite("errors carry SQLSTATE and a named code; transactions commit or roll back whole")
struct ErrorAndTransactionTests {
    @Test func uniqueViolationIsNamed() async throws {
        let connection = try await TestClusters.connect()
        let table = TestClusters.uniqueName("unique_test")
        try await connection.query("CREATE TABLE \(table) (id int8 PRIMARY KEY)")
        try await connection.query("INSERT INTO \(table) VALUES ($1)", [1])
        let error = try await #require(throws: PostgresError.self) {
            try await connection.query("INSERT INTO \(table) VALUES ($1)", [1])
        }
        #expect(error.code == .uniqueViolation)
        #expect(error.sqlState == "23505")
        #expect(error.detail?.contains("(id)=(1)") == true)
        try await connection.query("DROP TABLE \(table)")
    }

    @Test func withTransactionCommitsOrRollsBack() async throws {
        let connection = try await TestClusters.connect()
        let table = TestClusters.uniqueName("tx_test")
        try await connection.query("CREATE TABLE \(table) (id int8 PRIMARY KEY)")
        try await connection.withTransaction { tx in
            try await tx.query("INSERT INTO \(table) VALUES (1)")
        }
        struct Abandon: Error {}
        await #expect(throws: Abandon.self) {
            try await connection.withTransaction { tx in
                try await tx.query("INSERT INTO \(table) VALUES (2)")
                throw Abandon()
            }
        }
        #expect(connection.transactionStatus == .idle)
        let ids = try await connection.query("SELECT id FROM \(table) ORDER BY id").map { try $0.decode(Int64.self, column: 0) }
        #expect(ids == [1])
        try await connection.query("DROP TABLE \(table)")
    }

    @Test func commitAfterASwallowedErrorIsReportedAsRollback() async throws {
        let connection = try await TestClusters.connect()
        let error = try await #require(throws: PostgresError.self) {
            try await connection.withTransaction { tx in
                _ = try? await tx.query("SELECT 1/0")
            }
        }
        #expect(error.message.contains("rolled back"))
        #expect(connection.transactionStatus == .idle)
    }
}
