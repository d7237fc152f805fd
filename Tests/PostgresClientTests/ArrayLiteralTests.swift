import PostgresClient
import SettleTestSupport
import Testing

/// Many values sent as one array parameter come back element for element, whatever they hold.
@Suite("array literals")
struct ArrayLiteralTests {
    @Test func textAndByteaElementsRoundTripThroughUnnest() async throws {
        let connection = try await TestClusters.connect()
        let texts = ["plain", "with \"quotes\"", "back\\slash", "a,b", "{braces}", "NULL", " spaced ", "", "Grüße ✓"]
        let blobs: [[UInt8]] = [[], [0], Array(0...255), [0x5c, 0x22, 0x2c, 0x7b, 0x7d], [UInt8](repeating: 0xff, count: 64)]
        let textRows = try await connection.query(
            "SELECT value FROM unnest($1::text[]) WITH ORDINALITY AS t(value, position) ORDER BY position",
            [PostgresArrayLiteral.of(texts.map(PostgresArrayLiteral.quoted))]
        )
        #expect(try textRows.map { try $0.decode(String.self, column: "value") } == texts)
        let byteRows = try await connection.query(
            "SELECT value FROM unnest($1::bytea[]) WITH ORDINALITY AS t(value, position) ORDER BY position",
            [PostgresArrayLiteral.of(blobs.map(PostgresArrayLiteral.bytea))]
        )
        #expect(try byteRows.map { try $0.decode([UInt8].self, column: "value") } == blobs)
    }

    @Test func anEmptyArrayHasNoElements() async throws {
        let connection = try await TestClusters.connect()
        let rows = try await connection.query("SELECT cardinality($1::bigint[]) AS count", [PostgresArrayLiteral.of([])])
        #expect(try rows[0].decode(Int32.self, column: "count") == 0)
    }
}
