import ExampleBank
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import LaunchedProcesses
import PostgresClient
import SettleProtocol
import SettleTestSupport
import Testing

/// The example-bank executable, started as a real process.
struct ExampleBankProcess: Sendable {
    let launched: LaunchedProcess
    var process: Process { launched.process }
    var port: Int { launched.port() ?? 0 }

    let directory: TemporaryDirectory

    init(databaseURL: String, arguments: [String] = []) throws {
        directory = try TemporaryDirectory()
        let coordinators = try writeTestCoordinatorsFile(in: directory)
        launched = try LaunchedProcess(
            "example-bank",
            ["--name", testParticipant, "--database-url", databaseURL, "--listen", "127.0.0.1:0", "--coordinators", coordinators]
                + arguments,
            readyPrefix: "listening on "
        )
    }

    func kill() { launched.kill() }

    func withClient(
        _ body: (Settle_V1_Participant.Client<HTTP2ClientTransport.Posix>) async throws -> Void
    ) async throws {
        try await withGRPCClient(
            transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
        ) { client in
            try await body(Settle_V1_Participant.Client(wrapping: client))
        }
    }
}

@Suite("participant process crash", .timeLimit(.minutes(5)))
struct ParticipantCrashTests {
    /// SIGKILL right after PREPARE: the prepared transaction survives in PostgreSQL, the restarted
    /// service reports it in doubt, and Commit completes it.
    @Test func aBranchPreparedBeforeSIGKILLIsInDoubtAfterRestartAndCommits() async throws {
        let database = try await ScratchDatabase.create()
        defer { Task { await database.drop() } }
        let first = try ExampleBankProcess(databaseURL: database.url, arguments: ["--seed", "a=1000,b=500"])
        try await first.withClient { client throws in
            #expect(try await client.prepare(gid("crash"), "debit", movement("a", 100)).outcome == .prepared)
        }
        first.kill()
        #expect(first.process.terminationReason == .uncaughtSignal)

        let second = try ExampleBankProcess(databaseURL: database.url)
        try await second.withClient { client throws in
            let inDoubt = try await client.inDoubt("settle:test-coordinator:")
            #expect(inDoubt.map(\.gid) == [gid("crash")])
            #expect(try await client.commit(gid("crash")) == .committed)
            #expect(try await client.inDoubt("settle:test-coordinator:").isEmpty)
        }
        second.process.terminate()
        second.process.waitUntilExit()
        let pool = PostgresPool(configuration: .init(connectionString: database.url, connectionsMax: 1))
        #expect(try await BankSchema.balance(pool, account: "a") == 900)
        await pool.close()
    }
}
