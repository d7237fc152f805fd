import PostgresClient
import SettleTestSupport
import Testing

@Suite("PREPARE TRANSACTION, COMMIT PREPARED and ROLLBACK PREPARED across sessions")
struct PreparedTransactionTests {
    @Test func preparedOnOneSessionCommittedFromAnother() async throws {
        let preparer = try await TestClusters.connect()
        let finisher = try await TestClusters.connect()
        let table = TestClusters.uniqueName("prepared_commit")
        try await preparer.query("CREATE TABLE \(table) (id int8 PRIMARY KEY)")
        let gid = "settle:test:\(table):0"

        try await preparer.withPreparedTransaction(gid: gid) { tx in
            try await tx.query("INSERT INTO \(table) VALUES (42)")
        }
        #expect(preparer.transactionStatus == .idle)
        #expect(try await finisher.preparedTransactions(gidPrefix: "settle:test:\(table)").map(\.gid) == [gid])
        // Prepared but not committed: invisible to others.
        #expect(try await finisher.query("SELECT id FROM \(table)").count == 0)

        try await finisher.commitPrepared(gid: gid)
        #expect(try await finisher.query("SELECT id FROM \(table)")[0].decode(Int64.self, column: 0) == 42)
        #expect(try await finisher.preparedTransactions(gidPrefix: gid).isEmpty)
        try await finisher.query("DROP TABLE \(table)")
    }

    @Test func rollbackPreparedRemovesTheRow() async throws {
        let preparer = try await TestClusters.connect()
        let finisher = try await TestClusters.connect()
        let table = TestClusters.uniqueName("prepared_rollback")
        try await preparer.query("CREATE TABLE \(table) (id int8 PRIMARY KEY)")
        let gid = "settle:test:\(table):1"
        try await preparer.withPreparedTransaction(gid: gid) { tx in
            try await tx.query("INSERT INTO \(table) VALUES (7)")
        }
        let listed = try await finisher.preparedTransactions(gidPrefix: gid)
        #expect(listed.map(\.gid) == [gid])
        #expect(listed.first?.owner == "settle")
        #expect(listed.first?.database == "settle")

        try await finisher.rollbackPrepared(gid: gid)
        #expect(try await finisher.query("SELECT id FROM \(table)").count == 0)
        #expect(try await finisher.preparedTransactions(gidPrefix: gid).isEmpty)
        try await finisher.query("DROP TABLE \(table)")
    }

    @Test func commitOfUnknownGIDIsUndefinedObject() async throws {
        let connection = try await TestClusters.connect()
        let error = try await #require(throws: PostgresError.self) {
            try await connection.commitPrepared(gid: "settle:test:never-prepared:0")
        }
        #expect(error.code == .undefinedObject)
        #expect(error.sqlState == "42704")
        let rollbackError = try await #require(throws: PostgresError.self) {
            try await connection.rollbackPrepared(gid: "settle:test:never-prepared:0")
        }
        #expect(rollbackError.code == .undefinedObject)
    }

    @Test func gidIsQuotedNotConcatenated() async throws {
        let preparer = try await TestClusters.connect()
        let gid = "it's; ROLLBACK; --\(TestClusters.uniqueName("q"))"
        try await preparer.withPreparedTransaction(gid: gid) { tx in try await tx.query("SELECT 1") }
        #expect(try await preparer.preparedTransactions(gidPrefix: gid).map(\.gid) == [gid])
        try await preparer.rollbackPrepared(gid: gid)
        let tooLong = String(repeating: "g", count: PostgresConnection.gidBytesMax + 1)
        let error = try await #require(throws: PostgresError.self) { try await preparer.commitPrepared(gid: tooLong) }
        #expect(error.code == .invalidParameter)
    }

    @Test func failedBodyPreparesNothing() async throws {
        let connection = try await TestClusters.connect()
        let gid = "settle:test:\(TestClusters.uniqueName("failed")):0"
        await #expect(throws: PostgresError.self) {
            try await connection.withPreparedTransaction(gid: gid) { tx in try await tx.query("SELECT 1/0") }
        }
        #expect(try await connection.preparedTransactions(gidPrefix: gid).isEmpty)
        #expect(connection.transactionStatus == .idle)
    }
}
