import ExampleBank
import Foundation
import GRPCCore
import PostgresClient
import SettleProtocol
import SettleTestSupport
import Testing

/// A gid stands for one piece of work: the barrier binds it to a digest of (operation, payload),
/// and a Prepare or Compensate that reuses it with other work is refused, never answered as a
/// duplicate of the first.
@Suite("the barrier binds each gid to its work", .timeLimit(.minutes(2)))
struct WorkBindingTests {
    @Test func aPrepareOfAPreparedGIDWithOtherWorkIsRefused() async throws {
        try await withBank { bank throws in
            #expect(try await bank.client.prepare(gid("w1"), "debit", movement("a", 100)).outcome == .prepared)
            let otherAmount = await rpcFailure { _ = try await bank.client.prepare(gid("w1"), "debit", movement("a", 999)) }
            #expect(otherAmount?.code == .failedPrecondition)
            #expect(otherAmount?.message.contains(gid("w1")) == true, "names the gid: \(otherAmount?.message ?? "")")
            let otherAction = await rpcFailure { _ = try await bank.client.prepare(gid("w1"), "credit", movement("a", 100)) }
            #expect(otherAction?.code == .failedPrecondition)
            #expect(try await bank.client.prepare(gid("w1"), "debit", movement("a", 100)).outcome == .prepared, "the same work is a duplicate")
            #expect(try await bank.client.commit(gid("w1")) == .committed)
            #expect(try await bank.balance("a") == 900)
        }
    }

    /// The first wave's bug: a committed gid, prepared again with other work, answered PREPARED
    /// and then COMMITTED without moving anything.
    @Test func aPrepareOfACommittedGIDWithOtherWorkIsRefused() async throws {
        try await withBank { bank throws in
            #expect(try await bank.client.prepare(gid("w2"), "debit", movement("a", 100)).outcome == .prepared)
            #expect(try await bank.client.commit(gid("w2")) == .committed)
            let reused = await rpcFailure { _ = try await bank.client.prepare(gid("w2"), "debit", movement("a", 250)) }
            #expect(reused?.code == .failedPrecondition)
            #expect(reused?.message.contains("already stands for another action or payload") == true)
            #expect(try await bank.client.prepare(gid("w2"), "debit", movement("a", 100)).outcome == .prepared)
            #expect(try await bank.balance("a") == 900)
            #expect(try await bank.prepared().isEmpty)
        }
    }

    @Test func aSecondCompensateWithOtherWorkIsRefused() async throws {
        try await withBank { bank throws in
            #expect(try await bank.client.prepare(gid("w3"), "debit", movement("a", 100)).outcome == .prepared)
            #expect(try await bank.client.commit(gid("w3")) == .committed)
            #expect(try await bank.client.compensate(gid("w3"), "refund", movement("a", 100)).outcome == .compensated)
            let other = await rpcFailure { _ = try await bank.client.compensate(gid("w3"), "refund", movement("a", 400)) }
            #expect(other?.code == .failedPrecondition)
            #expect(other?.message.contains("another compensation or payload") == true)
            #expect(try await bank.client.compensate(gid("w3"), "refund", movement("a", 100)).outcome == .compensated)
            #expect(try await bank.balance("a") == 1000, "refunded exactly once")
        }
    }

    /// PostgreSQL hides a prepared transaction's rows, so a restarted participant cannot compare a
    /// duplicate Prepare with the prepared work itself. A duplicate carrying the coordinator's
    /// signed order is the prepared work (only that order could have prepared the gid, and the
    /// coordinator orders one work per gid): it is answered PREPARED, as a saga's re-drive after a
    /// participant restart needs (the 10,000-transfer storm found a saga compensated because this
    /// was refused). An unsigned duplicate, possible only in the migration window, is refused; in
    /// both cases Commit and Rollback still work.
    @Test func aRestartedParticipantAnswersASignedDuplicateAndRefusesAnUnsignedOne() async throws {
        let database = try await ScratchDatabase.create()
        defer { Task { await database.drop() } }
        let migration = ["--accept-unsigned-phase-two"]
        let first = try ExampleBankProcess(databaseURL: database.url, arguments: ["--seed", "a=1000,b=500"] + migration)
        try await first.withClient { client throws in
            #expect(try await client.prepare(gid("w4"), "debit", movement("a", 100)).outcome == .prepared)
            #expect(try await client.prepare(gid("w5"), "debit", movement("b", 100)).outcome == .prepared)
        }
        first.kill()
        let second = try ExampleBankProcess(databaseURL: database.url, arguments: migration)
        try await second.withClient { client throws in
            #expect(try await client.prepare(gid("w4"), "debit", movement("a", 100)).outcome == .prepared, "signed: the prepared work")
            #expect(try await client.commit(gid("w4")) == .committed)
            var unsigned = Settle_V1_PrepareRequest()
            unsigned.gid = gid("w5")
            unsigned.action = "debit"
            unsigned.payload = movement("b", 100)
            let duplicate = await rpcFailure { _ = try await client.prepare(unsigned, metadata: authorized) }
            #expect(duplicate?.code == .failedPrecondition)
            #expect(duplicate?.message.contains("cannot be compared") == true, "\(duplicate?.message ?? "")")
            #expect(try await client.rollback(gid("w5")) == .rolledBack)
            #expect(try await client.inDoubt("settle:test-coordinator:").isEmpty)
        }
        second.process.terminate()
        second.process.waitUntilExit()
    }

    /// A database whose barrier was created by schema version 1 migrates in place; its rows stay
    /// valid (a duplicate of a pre-digest committed gid answers as before).
    @Test func aVersionOneBarrierMigratesAndItsRowsStayValid() async throws {
        let database = try await ScratchDatabase.create()
        defer { Task { await database.drop() } }
        let pool = PostgresPool(configuration: .init(connectionString: database.url, connectionsMax: 2))
        defer { Task { await pool.close() } }
        try await pool.query("CREATE TABLE settle_schema (component text PRIMARY KEY, version integer NOT NULL)")
        try await pool.query(
            """
            CREATE TABLE settle_barrier (
                gid text NOT NULL CHECK (octet_length(gid) BETWEEN 1 AND 199),
                op text NOT NULL CHECK (op IN ('action', 'cancelled', 'compensation')),
                created_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (gid, op)
            )
            """
        )
        try await pool.query("INSERT INTO settle_schema VALUES ('barrier', 1)")
        try await pool.query("INSERT INTO settle_barrier (gid, op) VALUES ($1, 'action')", [gid("old")])
        let bank = try ExampleBankProcess(databaseURL: database.url, arguments: ["--seed", "a=1000"])
        try await bank.withClient { client throws in
            #expect(try await client.prepare(gid("old"), "debit", movement("a", 5)).outcome == .prepared, "a version-1 row has no digest")
            #expect(try await client.prepare(gid("new"), "debit", movement("a", 5)).outcome == .prepared)
        }
        bank.process.terminate()
        bank.process.waitUntilExit()
        #expect(try await pool.query("SELECT version FROM settle_schema WHERE component = 'barrier'")[0].decode(Int32.self, column: "version") == 4)
        let digests = try await pool.query("SELECT gid, digest IS NOT NULL AS bound FROM settle_barrier ORDER BY gid")
            .map { (try $0.decode(String.self, column: "gid"), try $0.decode(Bool.self, column: "bound")) }
        #expect(digests.map(\.1) == [false], "only the old row is visible; the new one is still prepared")
        try await pool.withConnection { try await $0.rollbackPrepared(gid: gid("new")) }
    }
}
