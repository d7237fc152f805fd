import Foundation
import Testing
@testable import PostgresClient

@Suite struct ConnectFailureTests {
    /// A standby retries its lease's database while it is down: each failed connect used to
    /// leave its connection thread waiting for work forever.
    @Test func aFailedConnectLeavesNoThreadBehind() async throws {
        let name = "settle-cfail"
        func threadsNamed() throws -> Int {
            try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").filter { task in
                let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)
                return comm?.trimmingCharacters(in: .whitespacesAndNewlines) == name
            }.count
        }
        for _ in 0..<10 {
            _ = try? await PostgresConnection.connect(
                to: "postgres://settle@127.0.0.1:1/settle", connectTimeoutSeconds: 1, statementCacheCapacity: 0, threadName: name
            )
        }
        try await waitUntilNoThreads(threadsNamed)
        #expect(try threadsNamed() == 0, "connection threads of failed connects still running")
    }

    private func waitUntilNoThreads(_ count: () throws -> Int) async throws {
        for _ in 0..<50 where try count() > 0 { try await Task.sleep(for: .milliseconds(20)) }
    }
}
