import Foundation
import PostgresClient
import Testing

/// The PostgreSQL clusters started by `tools/pg` (via `tools/test`). Tests that need a database
/// fail, loudly, when there is none: a database test that silently skips proves nothing.
enum TestClusters {
    static let urls: [String] = {
        if let fromEnvironment = ProcessInfo.processInfo.environment["SETTLE_PG_URLS"] {
            return split(fromEnvironment)
        }
        let directory = ProcessInfo.processInfo.environment["SETTLE_PG_DIR"] ?? "/tmp/settle-pg-\(NSUserName())"
        guard let file = try? String(contentsOfFile: directory + "/urls", encoding: .utf8) else { return [] }
        return split(file)
    }()

    static func url(_ index: Int = 0) throws -> String {
        guard index < urls.count else {
            Issue.record(
                "no PostgreSQL cluster #\(index + 1): run `tools/test`, or `tools/pg start --count 2` before `swift test`"
            )
            throw MissingCluster()
        }
        return urls[index]
    }

    static func connect(_ index: Int = 0) async throws -> PostgresConnection {
        try await PostgresConnection.connect(to: try url(index))
    }

    /// A table name no other test (or earlier run) uses.
    static func uniqueName(_ stem: String) -> String {
        "\(stem)_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)"
    }

    private static func split(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" }).map(String.init)
    }

    struct MissingCluster: Error {}
}
