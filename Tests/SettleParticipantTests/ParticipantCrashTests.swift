import ExampleBank
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import PostgresClient
import SettleProtocol
import SettleTestSupport
import Testing

/// The example-bank executable, started as a real process.
final class ExampleBankProcess: Sendable {
    let process: Process
    let port: Int

    init(databaseURL: String, arguments: [String] = []) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Products.path("example-bank"))
        process.arguments = [
            "--name", "bank-process", "--database-url", databaseURL, "--listen", "127.0.0.1:0", "--token", coordinatorToken,
        ] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first line it prints names the port it bound.
        var line = Data()
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("listening on "), let port = text.split(separator: ":").last.flatMap({ Int($0) }) else {
            process.terminate()
            throw ProcessFailure(description: "example-bank did not start: \(text)")
        }
        self.process = process
        self.port = port
    }

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func withClient(
        _ body: (Settle_V1_Participant.Client<HTTP2ClientTransport.Posix>) async throws -> Void
    ) async throws {
        try await withGRPCClient(
            transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
        ) { client in
            try await body(Settle_V1_Participant.Client(wrapping: client))
        }
    }

    struct ProcessFailure: Error, CustomStringConvertible {
        let description: String
    }
}

@Suite("participant process crash")
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
