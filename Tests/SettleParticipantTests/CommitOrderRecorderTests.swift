import PostgresClient
import SettleTestSupport
import Testing

@testable import SettleParticipant

/// The coordinator's commit orders reach their barrier rows in shared batches, each order on its
/// own row, and a failed batch neither loses the lead nor hangs the next caller.
@Suite("commit orders written in batches", .timeLimit(.minutes(3)))
struct CommitOrderRecorderTests {
    @Test func concurrentOrdersShareBatchesAndEachLandsOnItsOwnRow() async throws {
        try await withBarrier { pool in
            let gids = (0..<200).map { gid("batched-\($0)") }
            for gid in gids {
                try await pool.query("INSERT INTO settle_barrier (gid, op) VALUES ($1, 'action')", [gid])
            }
            // One row already carries an order: the first order wins.
            try await pool.query("UPDATE settle_barrier SET decision_lsn = 1, decision_signature = '\\x01' WHERE gid = $1", [gids[0]])
            let recorder = Self.recorder(pool)
            try await withThrowingDiscardingTaskGroup { group in
                for (index, gid) in gids.enumerated() {
                    group.addTask {
                        try await recorder.record(
                            gid: gid, order: OrderEvidence(decisionLSN: UInt64(1000 + index), signature: [UInt8(index % 256), 0x5c, 0x22]))
                    }
                }
            }
            let rows = try await pool.query("SELECT gid, decision_lsn, decision_signature FROM settle_barrier ORDER BY gid")
            var stored: [String: (Int64, [UInt8])] = [:]
            for row in rows {
                stored[try row.decode(String.self, column: "gid")] = (
                    try row.decode(Int64.self, column: "decision_lsn"), try row.decode([UInt8].self, column: "decision_signature")
                )
            }
            #expect(stored[gids[0]]?.0 == 1 && stored[gids[0]]?.1 == [1], "an order already recorded is kept")
            for (index, gid) in gids.enumerated().dropFirst() {
                #expect(stored[gid]?.0 == Int64(1000 + index) && stored[gid]?.1 == [UInt8(index % 256), 0x5c, 0x22], "\(gid)")
            }
            let batches = recorder.batchesWritten
            #expect(batches >= 1 && batches < gids.count, "\(batches) batches for \(gids.count) orders")
        }
    }

    /// A batch that fails fails every order in it, followers included, and the lead passes on:
    /// the next order, alone, is written.
    @Test func aFailedBatchFailsEveryOrderInItAndTheLeadPassesOn() async throws {
        try await withBarrier { pool in
            let recorder = Self.recorder(pool)
            try await pool.query("ALTER TABLE settle_barrier RENAME TO settle_barrier_away")
            let failures = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        do {
                            try await recorder.record(gid: gid("failing-\(index)"), order: OrderEvidence(decisionLSN: 9, signature: [9]))
                            return false
                        } catch is PostgresError {
                            return true
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(failures == 50)
            try await pool.query("ALTER TABLE settle_barrier_away RENAME TO settle_barrier")
            try await pool.query("INSERT INTO settle_barrier (gid, op) VALUES ($1, 'action')", [gid("next")])
            try await recorder.record(gid: gid("next"), order: OrderEvidence(decisionLSN: 10, signature: [10]))
            #expect(try await Self.decisionLSN(pool, gid("next")) == 10)
        }
    }

    /// The leader's task cancelled (its command's deadline) still writes the batch it leads,
    /// which holds other commits' orders too.
    @Test func aCancelledLeaderStillWritesItsBatch() async throws {
        try await withBarrier { pool in
            let recorder = Self.recorder(pool)
            try await pool.query("INSERT INTO settle_barrier (gid, op) VALUES ($1, 'action')", [gid("cancelled")])
            let leader = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                try await recorder.record(gid: gid("cancelled"), order: OrderEvidence(decisionLSN: 11, signature: [11]))
            }
            try await leader.value
            #expect(try await Self.decisionLSN(pool, gid("cancelled")) == 11)
        }
    }

    static func decisionLSN(_ pool: PostgresPool, _ gid: String) async throws -> Int64? {
        try await pool.query("SELECT decision_lsn FROM settle_barrier WHERE gid = $1", [gid])[0].decode(Int64?.self, column: "decision_lsn")
    }

    static func recorder(_ pool: PostgresPool) -> CommitOrderRecorder {
        CommitOrderRecorder(pool: pool, lockTimeout: .seconds(5), statementTimeout: .seconds(30))
    }

    private func withBarrier(_ body: (PostgresPool) async throws -> Void) async throws {
        let database = try await ScratchDatabase.create()
        let pool = PostgresPool(configuration: .init(connectionString: database.url, connectionsMax: 4, acquireTimeout: .seconds(30)))
        do {
            try await pool.withConnection { try await BarrierSchema.migrate($0) }
            try await body(pool)
        } catch {
            await pool.close()
            await database.drop()
            throw error
        }
        await pool.close()
        await database.drop()
    }
}
