import SettleTestSupport
import Testing

@testable import PostgresClient

/// A connection whose network path dies must notice within seconds, not the kernel's two hours:
/// TCP keepalives and a user timeout are on by default, and a connection string still decides.
@Suite struct ConnectionOptionsTests {
    static func options(_ url: String) async throws -> [String: String] {
        let connection = try await PostgresConnection.connect(to: url)
        let options = try await connection.perform(sql: "PQconninfo", timeout: nil) { $0.connectionOptions }
        await connection.close()
        return options
    }

    @Test func aDeadPathIsNoticedBySecondsByDefault() async throws {
        let defaults = try await Self.options(try TestClusters.url(0))
        #expect(defaults["keepalives"] == "1" && defaults["keepalives_idle"] == "10")
        #expect(defaults["keepalives_interval"] == "5" && defaults["keepalives_count"] == "3")
        #expect(defaults["tcp_user_timeout"] == "30000")
        #expect(defaults["client_encoding"] == "UTF8")

        let url = try TestClusters.url(0)
        let chosen = try await Self.options(url + (url.contains("?") ? "&" : "?") + "keepalives_idle=60&tcp_user_timeout=0")
        #expect(chosen["keepalives_idle"] == "60" && chosen["tcp_user_timeout"] == "0", "the connection string overrides them")
    }
}
