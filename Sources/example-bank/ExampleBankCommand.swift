import ArgumentParser
import Dispatch
import ExampleBank
import Foundation
import GRPCNIOTransportHTTP2
import Logging
import PostgresClient
import SettleCore
import SettleParticipant
import SettleProtocol
import SettleTelemetry
import ServiceLifecycle

/// ExampleBank as a process: a real participant service for the demo, the tests and the benchmark.
@main
struct ExampleBankCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example-bank",
        abstract: "A small bank that takes part in Settle transfers (debit/credit, refund/reverse-credit)."
    )

    @Option(help: "This participant's name, as the coordinator's configuration names it.")
    var name = "bank"

    @Option(help: "PostgreSQL URL or conninfo of the bank's own database.")
    var databaseURL: String

    @Option(help: "host:port to serve the participant protocol on (port 0 picks a free one).")
    var listen = "127.0.0.1:7001"

    @Option(
        help: ArgumentHelp(
            "The coordinators served: a JSON file listing each one's id, token and public keys.",
            discussion: #"[{"id": "walk", "tokenFile": "/path/walk.token", "publicKeys": ["/path/signing-key.pub.pem"]}]"#
        )
    )
    var coordinators: String

    @Flag(help: "Serve without TLS on an address that is not loopback (tokens and payloads cross the network in the clear).")
    var allowPlaintext = false

    @Flag(help: "MIGRATION ONLY: accept unsigned Commit, Rollback and Compensate (from coordinators that do not sign yet).")
    var acceptUnsignedPhaseTwo = false

    @Option(help: "Accounts to create or reset before serving: id=balance,… in minor units.")
    var seed: String?

    @Option(help: "Of the --seed accounts, those credited by appending deposits (a merchant many pay at once): id,…")
    var pooled: String?

    @Option(help: "Serve TLS with this PEM certificate chain (with --tls-key).")
    var tlsCertificate: String?

    @Option(help: "The PEM private key of --tls-certificate.")
    var tlsKey: String?

    @Option(help: "Require the coordinator to present a client certificate issued by these PEM certificates (mutual TLS).")
    var tlsClientCA: String?

    @Option(help: "Export spans to this OpenTelemetry collector (OTLP over gRPC: http://host:4317); OTEL_* variables refine it.")
    var otlpEndpoint: String?

    @Option(help: "Database connections, at most.")
    var poolSize = 16

    @Option(help: "Roll back branches left prepared longer than this many milliseconds (off unless given).")
    var heuristicRollbackAfterMs: Int?

    @Option(name: .customLong("fault-inject-delay"), help: "FAULT INJECTION (tests only): operation=milliseconds; repeatable.")
    var faultDelays: [String] = []

    @Option(name: .customLong("fault-inject-fail"), help: "FAULT INJECTION (tests only): fail this operation; repeatable.")
    var faultFailures: [String] = []

    func run() async throws {
        let logger = Logger(label: "example-bank")
        let credentials = try CoordinatorsFile.load(coordinators)
        guard let address = try? HostPort(parsing: listen) else { throw ValidationError("--listen must be host:port, not \(listen)") }
        let (host, port) = (address.host, address.port)
        let faults = try parseFaults()
        if !faults.delays.isEmpty || !faults.failures.isEmpty {
            logger.warning("FAULT INJECTION IS ON", metadata: ["delays": "\(faults.delays)", "failures": "\(faults.failures)"])
        }
        let pool = PostgresPool(configuration: .init(connectionString: databaseURL, connectionsMax: poolSize))
        try await BankSchema.migrate(pool)
        let pooledAccounts = Set((pooled ?? "").split(separator: ",").map(String.init))
        if let seed {
            let accounts = try parseSeed(seed)
            guard pooledAccounts.isSubset(of: Set(accounts.map(\.id))) else { throw ValidationError("--pooled names accounts of --seed") }
            try await BankSchema.seed(pool, accounts: accounts, pooled: pooledAccounts)
        } else if !pooledAccounts.isEmpty {
            throw ValidationError("--pooled names accounts of --seed")
        }

        var configuration = ParticipantConfiguration(coordinators: credentials)
        configuration.allowPlaintext = allowPlaintext
        configuration.requireSignedPhaseTwo = !acceptUnsignedPhaseTwo
        configuration.heuristicRollbackAfter = heuristicRollbackAfterMs.map { .milliseconds($0) }
        let participant = Participant(name: name, database: pool, configuration: configuration, logger: logger)
        ExampleBank.register(on: participant, faults: faults)
        let server = try await participant.start(host: host, port: port, transportSecurity: try transportSecurity())
        let tracing = try otlpEndpoint.map { try OTLPTracing.bootstrap(serviceName: "example-bank", endpoint: $0, logger: logger) }
        let exporting = tracing.map { service in Task { try await ServiceGroup(configuration: .init(services: [service], logger: logger)).run() } }
        let signals = ShutdownSignals { server.beginGracefulShutdown() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let boundPort = try await server.listeningPort
            // Tests and tools/demo read this line to learn the port.
            FileHandle.standardOutput.write(Data("listening on \(host):\(boundPort)\n".utf8))
            try await group.waitForAll()
        }
        signals.cancel()
        // Cancelling the exporter's group shuts it down gracefully: the last spans are sent.
        exporting?.cancel()
        _ = await exporting?.result
        await pool.close()
    }

    private func transportSecurity() throws -> HTTP2ServerTransport.Posix.TransportSecurity? {
        guard let tlsCertificate, let tlsKey else {
            guard tlsCertificate == nil, tlsKey == nil, tlsClientCA == nil else {
                throw ValidationError("TLS needs both --tls-certificate and --tls-key")
            }
            return nil
        }
        return ServerTLS(certificateChain: tlsCertificate, privateKey: tlsKey, clientCertificateAuthority: tlsClientCA).transportSecurity()
    }

    private func parseSeed(_ text: String) throws -> [(id: String, balance: Int64)] {
        try text.split(separator: ",").map { item in
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let balance = Int64(parts[1]), balance >= 0 else {
                throw ValidationError("--seed takes id=balance pairs with whole non-negative minor units, not \(item)")
            }
            return (String(parts[0]), balance)
        }
    }

    private func parseFaults() throws -> FaultInjection {
        var faults = FaultInjection()
        for item in faultDelays {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let milliseconds = Int(parts[1]), milliseconds >= 0 else {
                throw ValidationError("--fault-inject-delay takes operation=milliseconds, not \(item)")
            }
            faults.delays[String(parts[0])] = .milliseconds(milliseconds)
        }
        faults.failures = Set(faultFailures)
        return faults
    }
}

/// SIGTERM and SIGINT begin a graceful shutdown: calls in flight finish, new ones are refused.
/// `@unchecked Sendable`: the sources are created in `init` and only cancelled afterwards, which
/// Dispatch allows from any thread.
final class ShutdownSignals: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]

    init(_ onSignal: @escaping @Sendable () -> Void) {
        sources = [SIGTERM, SIGINT].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler(handler: onSignal)
            source.resume()
            return source
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}
