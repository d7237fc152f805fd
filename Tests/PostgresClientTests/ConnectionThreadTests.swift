import Foundation
import PostgresClient
import SettleTestSupport
import Testing

@Suite("a task on its connection's thread runs statements there, without hand-offs, and loses nothing else")
struct ConnectionThreadTests {
    @Test func statementsOnTheConnectionThreadAreNotHandedOver() async throws {
        let connection = try await TestClusters.connect()
        let before = connection.handOffCount
        for value in 1...5 { #expect(try await connection.query("SELECT \(value)::int4")[0].decode(Int32.self, column: 0) == Int32(value)) }
        #expect(connection.handOffCount - before == 5)

        let inside = connection.handOffCount
        let sum = try await connection.withConnectionThread {
            var sum: Int32 = 0
            for value in 1...5 { sum += try await connection.query("SELECT \(value)::int4")[0].decode(Int32.self, column: 0) }
            let piped = try await connection.pipeline([PostgresStatement("SELECT 10::int4"), PostgresStatement("SELECT 20::int4")])
            for result in piped { sum += try result.get()[0].decode(Int32.self, column: 0) }
            await connection.rollbackIgnoringCancellation()
            return sum
        }
        #expect(sum == 45)
        // One hand-off: the task moving onto the thread. The statements ran where it was.
        #expect(connection.handOffCount - inside <= 1)
        await connection.close()
    }

    @Test func sessionsSleepingOnTheirThreadsLeaveTheCooperativePoolFree() async throws {
        let sessions = ProcessInfo.processInfo.activeProcessorCount + 2
        var connections: [PostgresConnection] = []
        for _ in 0..<sessions { connections.append(try await TestClusters.connect()) }
        let admin = try await TestClusters.connect()
        let marker = "/* connection-thread-sleep */"
        try await withThrowingTaskGroup(of: Void.self) { sleepers in
            for connection in connections {
                sleepers.addTask {
                    // Ends when the test cancels it (57014), never by its own 60 s.
                    _ = try? await connection.withConnectionThread { try await connection.query("SELECT pg_sleep(60) \(marker)") }
                }
            }
            let sleeping = "SELECT count(*)::int8 FROM pg_stat_activity WHERE query LIKE '%\(marker)' AND state = 'active'"
            try await waitUntil(timeout: .seconds(30), "every session asleep in the server") {
                try await admin.query(sleeping)[0].decode(Int64.self, column: 0) >= Int64(sessions)
            }
            // Reaching this line needed a cooperative thread while every session blocked in libpq.
            try await admin.query(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%\(marker)' AND pid <> pg_backend_pid()"
            )
            try await sleepers.waitForAll()
        }
        for connection in connections { await connection.close() }
    }

    @Test func timeoutsAndCancellationStillCancelOnTheServer() async throws {
        let connection = try await TestClusters.connect()
        let error = try await #require(throws: PostgresError.self) {
            try await connection.withConnectionThread { try await connection.query("SELECT pg_sleep(30)", timeout: .milliseconds(200)) }
        }
        #expect(error.code == .timeout)

        let marker = TestClusters.uniqueName("thread_cancel")
        let sleeper = Task { try await connection.withConnectionThread { try await connection.query("SELECT pg_sleep(30), '\(marker)'") } }
        let admin = try await TestClusters.connect()
        let running = "SELECT count(*)::int8 FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid() AND state = 'active'"
        try await waitUntil { try await admin.query(running, ["%\(marker)%"])[0].decode(Int64.self, column: 0) == 1 }
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(try await admin.query(running, ["%\(marker)%"])[0].decode(Int64.self, column: 0) == 0)
        #expect(try await connection.query("SELECT 4::int4")[0].decode(Int32.self, column: 0) == 4)
        await connection.close()
    }

    /// Closing ends the thread while the task still prefers it: the task must go on elsewhere,
    /// not wait forever for a thread that is gone.
    @Test(.timeLimit(.minutes(1))) func aTaskWhoseConnectionClosesUnderItFinishes() async throws {
        let connection = try await TestClusters.connect()
        let error = try await #require(throws: PostgresError.self) {
            try await connection.withConnectionThread {
                await connection.close()
                try await Task.sleep(for: .milliseconds(20))
                try await connection.query("SELECT 1")
            }
        }
        #expect(error.code == .connectionLost)
    }

    /// Still on the thread right after closing (no suspension in between): the statement must be
    /// refused as on any closed connection, not run against the finished session.
    @Test func aStatementRightAfterClosingOnTheThreadIsRefused() async throws {
        let connection = try await TestClusters.connect()
        let error = try await #require(throws: PostgresError.self) {
            try await connection.withConnectionThread {
                await connection.close()
                try await connection.query("SELECT 1")
            }
        }
        #expect(error.code == .connectionLost)
    }

    /// A closed connection's thread has ended, and a later thread may get its id: using the closed
    /// connection from there must still be refused, never run as if on its own thread.
    @Test func aClosedConnectionUsedFromAnotherConnectionsThreadIsRefused() async throws {
        for _ in 0..<20 {
            let closed = try await TestClusters.connect()
            await closed.close()
            let open = try await TestClusters.connect()
            let error = try await #require(throws: PostgresError.self) {
                try await open.withConnectionThread { try await closed.query("SELECT 1") }
            }
            #expect(error.code == .connectionLost)
            await open.close()
        }
    }
}
