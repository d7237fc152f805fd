import GRPCCore
import GRPCNIOTransportHTTP2
import SettleAuth
import SettleCore
import SettleProtocol
import SettleTracing

/// The coordinator's connections to one participant. Prepares and phase two travel on separate
/// HTTP/2 connections: a Prepare may wait on a row that only a later Commit releases, and that
/// Commit must never queue behind it.
struct ParticipantLink: Sendable {
    let name: String
    let preparing: Settle_V1_Participant.Client<HTTP2ClientTransport.Posix>
    let phaseTwo: Settle_V1_Participant.Client<HTTP2ClientTransport.Posix>
    /// Bounds on the calls outstanding, one per kind of call, so that no kind waits behind
    /// another: a Commit that would release a row never queues behind Prepares or compensations
    /// that wait for it, nor behind a recovery's backlog of Rollbacks.
    let preparePermits: CallPermits
    let commitPermits: CallPermits
    let rollbackPermits: CallPermits
    let compensatePermits: CallPermits
    /// Prepares, Commits and Rollbacks travel as commands of `Branches` calls, one per kind on
    /// the kind's connection, so that no command waits for another kind's.
    let prepareStream: BranchStream
    let commitStream: BranchStream
    let rollbackStream: BranchStream
    private let clients: [GRPCClient<HTTP2ClientTransport.Posix>]
    let metadata: Metadata
    /// Whether the participant accepts batch seals, as its `Branches` calls say.
    let sealSupport = OrderSealSupport()

    init(_ configuration: CoordinatorConfiguration.Participant, callsInFlightMax: Int, epoch: UInt32) throws {
        let address = try HostPort(parsing: configuration.address)
        let security = try (configuration.tls ?? .plaintext).transportSecurity()
        var transportConfiguration = HTTP2ClientTransport.Posix.Config.defaults
        // A peer that vanished without closing (a dead host, a black-holed network) is noticed
        // within time + timeout, not only when a call's deadline passes.
        transportConfiguration.connection.keepalive = .init(
            time: Self.keepaliveTime, timeout: Self.keepaliveTimeout, allowWithoutCalls: true
        )
        func client() throws -> GRPCClient<HTTP2ClientTransport.Posix> {
            GRPCClient(
                transport: try .http2NIOPosix(
                    target: connectionTarget(host: address.host, port: address.port), transportSecurity: security,
                    config: transportConfiguration
                ),
                interceptors: [ClientTraceContextInterceptor()]
            )
        }
        let preparingClient = try client()
        let phaseTwoClient = try client()
        name = configuration.name
        preparePermits = CallPermits(limit: callsInFlightMax)
        commitPermits = CallPermits(limit: callsInFlightMax)
        rollbackPermits = CallPermits(limit: callsInFlightMax)
        compensatePermits = CallPermits(limit: callsInFlightMax)
        clients = [preparingClient, phaseTwoClient]
        preparing = Settle_V1_Participant.Client(wrapping: preparingClient)
        phaseTwo = Settle_V1_Participant.Client(wrapping: phaseTwoClient)
        metadata = [
            "authorization": "Bearer \(try configuration.credential.secret(for: "participant \(configuration.name)"))",
            // A successor re-driving its predecessor's gids (an older epoch) is not deposed.
            SenderEpochHeader.name: "\(epoch)",
        ]
        typealias Method = Settle_V1_Participant.Method
        prepareStream = BranchStream(
            method: Method.Prepare.descriptor, participant: name, client: preparing, metadata: metadata, sealSupport: sealSupport
        )
        commitStream = BranchStream(
            method: Method.Commit.descriptor, participant: name, client: phaseTwo, metadata: metadata, sealSupport: sealSupport
        )
        rollbackStream = BranchStream(
            method: Method.Rollback.descriptor, participant: name, client: phaseTwo, metadata: metadata, sealSupport: sealSupport
        )
    }

    /// At least the participant server's minimum ping interval (Participant.swift: 10 s).
    static let keepaliveTime = Duration.seconds(15)
    static let keepaliveTimeout = Duration.seconds(10)

    /// Keeps the connections up until `shutDown()`.
    func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for client in clients { group.addTask { try await client.runConnections() } }
            for stream in streams { group.addTask { await stream.run() } }
        }
    }

    func shutDown() {
        // The streams' calls end first: a graceful shutdown waits for every open call.
        for stream in streams { stream.shutDown() }
        for client in clients { client.beginGracefulShutdown() }
    }

    private var streams: [BranchStream] { [prepareStream, commitStream, rollbackStream] }
}
