import Foundation
import PostgresClient
import Synchronization
import SettleTestSupport
import Testing

@Suite("the pool is bounded, times out clearly, replaces broken sessions, and never blocks the cooperative pool")
struct PoolTests {
    @Test func exhaustionWaitsThenFailsWithAcquireTimeout() async throws {
        let pool = PostgresPool(
            configuration: .init(connectionString: try TestClusters.url(), connectionsMax: 2, acquireTimeout: .milliseconds(300))
        )
        let holdersReady = Shared(0)
        let (releaseSignal, releaseAll) = AsyncStream<Void>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    try await pool.withConnection { _ in
                        holdersReady.value.withLock { $0 += 1 }
                        for await _ in releaseSignal { break }
                    }
                }
            }
            try await waitUntil { holdersReady.value.withLock { $0 } == 2 }
            let started = ContinuousClock.now
            let error = try await #require(throws: PostgresError.self) { try await pool.query("SELECT 1") }
            #expect(error.code == .acquireTimeout)
            #expect(error.message.contains("2 are in use"))
            // It waited for its timeout rather than failing at once.
            #expect(ContinuousClock.now - started >= .milliseconds(250))
            #expect(pool.openCount == 2)
            releaseAll.finish()
            try await group.waitForAll()
        }
        // A waiter is served as soon as a session comes back.
        #expect(try await pool.query("SELECT 5::int4")[0].decode(Int32.self, column: 0) == 5)
        await pool.close()
    }

    @Test func waiterIsServedWhenASessionIsReturned() async throws {
        let pool = PostgresPool(
            configuration: .init(connectionString: try TestClusters.url(), connectionsMax: 1, acquireTimeout: .seconds(10))
        )
        let marker = TestClusters.uniqueName("waiter_marker")
        async let slow = pool.query("SELECT pg_sleep(3), '\(marker)'")
        // The one session is surely lent out before the second query asks for it.
        let admin = try await TestClusters.connect()
        try await waitUntil(timeout: .seconds(10), "the slow query running") {
            try await admin.query(
                "SELECT count(*)::int8 FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()", ["%\(marker)%"]
            )[0].decode(Int64.self, column: 0) == 1
        }
        let value = try await pool.query("SELECT 9::int4")[0].decode(Int32.self, column: 0)
        _ = try await slow
        #expect(value == 9)
        #expect(pool.openCount == 1)
        await pool.close()
    }

    @Test func terminatedBackendIsDetectedOnBorrowAndReplaced() async throws {
        let pool = PostgresPool(
            configuration: .init(connectionString: try TestClusters.url(), connectionsMax: 1, idleCheckAfter: .zero)
        )
        let firstPID = try await pool.query("SELECT pg_backend_pid()")[0].decode(Int32.self, column: 0)
        let admin = try await TestClusters.connect()
        try await admin.query("SELECT pg_terminate_backend($1)", [firstPID])
        // The liveness check on borrow finds the dead session; the borrower never sees it.
        let secondPID = try await pool.query("SELECT pg_backend_pid()")[0].decode(Int32.self, column: 0)
        #expect(secondPID != firstPID)
        #expect(pool.openCount == 1)
        await pool.close()
    }

    @Test func sessionKilledMidUseIsDiscardedAndTheNextBorrowWorks() async throws {
        let pool = PostgresPool(
            configuration: .init(connectionString: try TestClusters.url(), connectionsMax: 1, idleCheckAfter: .seconds(3600))
        )
        let firstPID = try await pool.query("SELECT pg_backend_pid()")[0].decode(Int32.self, column: 0)
        let admin = try await TestClusters.connect()
        try await admin.query("SELECT pg_terminate_backend($1)", [firstPID])
        try await waitUntil {
            try await admin.query("SELECT count(*)::int8 FROM pg_stat_activity WHERE pid = $1", [firstPID])[0]
                .decode(Int64.self, column: 0) == 0
        }
        // No idle check: the borrower sees the loss, as a named error...
        let error = try await #require(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        #expect(error.code == .connectionLost)
        // ...and the broken session is not lent again.
        let secondPID = try await pool.query("SELECT pg_backend_pid()")[0].decode(Int32.self, column: 0)
        #expect(secondPID != firstPID)
        await pool.close()
    }

    /// More sessions than the cooperative pool has threads (one per core) all sit in a blocking
    /// libpq call at once; the test's own async code must still run meanwhile, which it could not
    /// if those calls held cooperative threads. Nothing here is timed: the sleeps are ended by
    /// cancelling them once they are all seen in pg_stat_activity.
    @Test(.timeLimit(.minutes(1)))
    func sessionsBlockedInLibpqLeaveTheCooperativePoolFree() async throws {
        let sessions = ProcessInfo.processInfo.activeProcessorCount + 2
        let pool = PostgresPool(
            configuration: .init(connectionString: try TestClusters.url(), connectionsMax: sessions, acquireTimeout: .seconds(60))
        )
        let admin = try await TestClusters.connect()
        try await withThrowingTaskGroup(of: Void.self) { queries in
            for _ in 0..<sessions {
                queries.addTask {
                    // Ends when the test cancels it (57014), never by its own 60 s.
                    _ = try? await pool.query("SELECT pg_sleep(60) /* cooperative-pool-test */")
                }
            }
            let sleeping = "SELECT count(*)::int8 FROM pg_stat_activity WHERE query LIKE '%cooperative-pool-test */' AND state = 'active'"
            try await waitUntil(timeout: .seconds(30), "every session asleep in the server") {
                try await admin.query(sleeping)[0].decode(Int64.self, column: 0) >= Int64(sessions)
            }
            // Reaching this line needed a cooperative thread while all of them slept.
            #expect(pool.openCount == sessions)
            try await admin.query(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%cooperative-pool-test */' AND pid <> pg_backend_pid()"
            )
            try await queries.waitForAll()
        }
        #expect(try await pool.query("SELECT 7::int4")[0].decode(Int32.self, column: 0) == 7)
        await pool.close()
    }

    @Test func closedPoolRefusesWork() async throws {
        let pool = PostgresPool(configuration: .init(connectionString: try TestClusters.url(), connectionsMax: 1))
        _ = try await pool.query("SELECT 1")
        await pool.close()
        let error = try await #require(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        #expect(error.code == .poolClosed)
        #expect(pool.openCount == 0)
    }

    @Test func unreachableServerIsAConnectionFailure() async throws {
        let error = try await #require(throws: PostgresError.self) {
            try await PostgresConnection.connect(to: "postgres://settle@127.0.0.1:1/settle", connectTimeoutSeconds: 2)
        }
        #expect(error.code == .connectionFailed)
    }
}

/// A Mutex that child tasks can share (a Mutex itself cannot be captured by an escaping closure).
