import Foundation
import Synchronization
import PostgresClient
import Testing

/// The PostgreSQL clusters started by `tools/pg` (via `tools/test`). Tests that need a database
/// fail, loudly, when there is none: a database test that silently skips proves nothing.
public enum TestClusters {
    public static let urls: [String] = {
        if let fromEnvironment = ProcessInfo.processInfo.environment["SETTLE_PG_URLS"] {
            return split(fromEnvironment)
        }
        let directory = ProcessInfo.processInfo.environment["SETTLE_PG_DIR"] ?? "/tmp/settle-pg-\(NSUserName())"
        guard let file = try? String(contentsOfFile: directory + "/urls", encoding: .utf8) else { return [] }
        return split(file)
    }()

    public static func url(_ index: Int = 0) throws -> String {
        guard index < urls.count else {
            Issue.record(
                "no PostgreSQL cluster #\(index + 1): run `tools/test`, or `tools/pg start --count 2` before `swift test`"
            )
            throw MissingCluster()
        }
        return urls[index]
    }

    /// A cluster started with `max_prepared_transactions = 0` (tools/test starts one).
    public static func noPreparedTransactionsURL() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let url = environment["SETTLE_PG_NO_PREPARED_URL"], !url.isEmpty { return url }
        let directory = (environment["SETTLE_PG_DIR"] ?? "/tmp/settle-pg-test-\(NSUserName())") + "-no-prepared"
        if let file = try? String(contentsOfFile: directory + "/urls", encoding: .utf8), let url = split(file).first {
            return url
        }
        Issue.record("no cluster without prepared transactions: run `tools/test`, or set SETTLE_PG_NO_PREPARED_URL")
        throw MissingCluster()
    }

    /// A primary with a synchronous standby (`tools/pg start --standby`; tools/test starts one),
    /// for the one test that kills the primary and promotes the standby (`tools/pg failover`).
    public static func replicatedDirectory() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let directory =
            environment["SETTLE_PG_REPLICATED_DIR"] ?? ((environment["SETTLE_PG_DIR"] ?? "/tmp/settle-pg-test-\(NSUserName())") + "-replicated")
        guard FileManager.default.fileExists(atPath: directory + "/failover-url") else {
            Issue.record("no primary with a standby: run `tools/test`, or `tools/pg start --standby --dir D` and set SETTLE_PG_REPLICATED_DIR=D")
            throw MissingCluster()
        }
        return directory
    }

    public static func connect(_ index: Int = 0) async throws -> PostgresConnection {
        try await PostgresConnection.connect(to: try url(index))
    }

    /// A table name no other test (or earlier run) uses.
    public static func uniqueName(_ stem: String) -> String {
        "\(stem)_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)"
    }

    private static func split(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" }).map(String.init)
    }

    public struct MissingCluster: Error {}
}

/// Polls `condition` every 20 ms until it holds; records an issue if it never does within `timeout`.
public func waitUntil(
    timeout: Duration = .seconds(10), _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("condition \(what) did not hold within \(timeout)", sourceLocation: sourceLocation)
}

/// A value shared between tasks or threads of a test.
public final class Shared<Value: Sendable>: Sendable {
    public let value: Mutex<Value>
    public init(_ initial: Value) { value = Mutex(initial) }
}
