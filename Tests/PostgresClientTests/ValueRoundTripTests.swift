import Foundation
import PostgresClient
import SettleTestSupport
import Testing

@Suite("values travel as parameters and come back intact")
struct ValueRoundTripTests {
    @Test func everySupportedTypeRoundTrips() async throws {
        let connection = try await TestClusters.connect()
        let when = Date(timeIntervalSince1970: 1_700_000_000.123456)
        let bytes: [UInt8] = [0, 1, 0, 255, 0x5c, 0x78, 0]
        let rows = try await connection.query(
            "SELECT $1::int8 AS big, $2::int4 AS small, $3::text AS name, $4::bool AS flag, $5::float8 AS ratio, $6::bytea AS raw, $7::timestamptz AS at, $8::bytea AS data",
            [Int64.min, Int32.max, "Grüße, 世界 — ✓", true, 0.1, bytes, when, Data([9, 0, 8])]
        )
        #expect(rows.count == 1)
        let row = rows[0]
        #expect(try row.decode(Int64.self, column: "big") == Int64.min)
        #expect(try row.decode(Int32.self, column: "small") == Int32.max)
        #expect(try row.decode(String.self, column: "name") == "Grüße, 世界 — ✓")
        #expect(try row.decode(Bool.self, column: "flag") == true)
        #expect(try row.decode(Double.self, column: "ratio") == 0.1)
        #expect(try row.decode([UInt8].self, column: "raw") == bytes)
        #expect(try row.decode(Data.self, column: "data") == Data([9, 0, 8]))
        let decodedDate = try row.decode(Date.self, column: "at")
        #expect(abs(decodedDate.timeIntervalSince(when)) < 0.000_001)
    }

    @Test func nullDecodesAsNilOnlyIntoOptionals() async throws {
        let connection = try await TestClusters.connect()
        let rows = try await connection.query(
            "SELECT $1::int8 AS a, $2::text AS b, $3::bytea AS c, $4::timestamptz AS d, $5::bool AS e",
            [nil, nil, nil, nil, nil]
        )
        let row = rows[0]
        #expect(try row.decode(Int64?.self, column: "a") == nil)
        #expect(try row.decode(String?.self, column: "b") == nil)
        #expect(try row.decode([UInt8]?.self, column: "c") == nil)
        #expect(try row.decode(Date?.self, column: "d") == nil)
        #expect(try row.decode(Bool?.self, column: 4) == nil)
        let error = try #require(throws: PostgresError.self) { try row.decode(Int64.self, column: "a") }
        #expect(error.code == .decoding)
        #expect(error.message.contains("\"a\""))
        let present: Int64? = 7
        #expect(try await connection.query("SELECT $1::int8 AS x", [present])[0].decode(Int64?.self, column: "x") == 7)
    }

    @Test func typeMismatchNamesTheColumn() async throws {
        let connection = try await TestClusters.connect()
        let row = try await connection.query("SELECT 'abc'::text AS label, 5::int8 AS amount")[0]
        let error = try #require(throws: PostgresError.self) { try row.decode(Int64.self, column: "label") }
        #expect(error.code == .decoding)
        #expect(error.message.contains("\"label\""))
        let wrongWay = try #require(throws: PostgresError.self) { try row.decode(String.self, column: "amount") }
        #expect(wrongWay.message.contains("\"amount\""))
        let missing = try #require(throws: PostgresError.self) { try row.decode(Int64.self, column: "nope") }
        #expect(missing.message.contains("nope"))
    }

    @Test func textWithNULIsRefusedBeforeSending() async throws {
        let connection = try await TestClusters.connect()
        await #expect(throws: PostgresError.self) { try await connection.query("SELECT $1::text", ["a\u{0}b"]) }
        // The refusal happened client-side; the session is untouched.
        #expect(try await connection.query("SELECT 1::int4 AS one")[0].decode(Int32.self, column: 0) == 1)
    }

    @Test func parametersAreNeverInterpretedAsSQL() async throws {
        let connection = try await TestClusters.connect()
        let hostile = "x'; DROP TABLE pg_class; --"
        let rows = try await connection.query("SELECT $1::text AS echoed", [hostile])
        #expect(try rows[0].decode(String.self, column: "echoed") == hostile)
        // The extended protocol refuses a second statement hidden in the SQL string itself.
        await #expect(throws: PostgresError.self) { try await connection.query("SELECT 1; SELECT 2") }
    }
}
