import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Metrics
import PostgresClient
import SettleAuth
import SettleCore
import SettleProtocol
import SettleTracing
import Synchronization

/// A service's membership in Settle transfers.
///
/// The service registers named actions and their compensations as closures that run SQL on its
/// own database; the library does the rest: barrier rows, `PREPARE TRANSACTION`, phase two,
/// compensation exactly once, in-doubt reporting, authentication and limits.
///
/// ```swift
/// let coordinators = try CoordinatorsFile.load("/etc/bank-a/coordinators.json")
/// let participant = Participant(name: "bank-a", database: pool,
///                               configuration: .init(coordinators: coordinators))
/// participant.action("debit", payload: Movement.self) { transaction, movement in
///     try await transaction.query("UPDATE accounts SET balance = balance - $1 WHERE id = $2", [movement.amount, movement.account])
/// }
/// let server = try await participant.start(host: "127.0.0.1", port: 7001)
/// try await server.run()
/// ```
public final class Participant: Sendable {
    public let name: String
    private let pool: PostgresPool
    private let configuration: ParticipantConfiguration
    private let logger: Logger
    private let metricsFactory: any MetricsFactory
    private let registry = Mutex(Registration())

    private struct Registration {
        var handlers = HandlerRegistry()
        var isStarted = false
    }

    /// - Parameters:
    ///   - name: how the coordinator's configuration names this participant: `[a-z0-9._-]{1,64}`.
    ///   - database: the pool of the service's own database; the library borrows connections
    ///     only for the duration of an operation (never across a prepared transaction).
    public init(
        name: String, database: PostgresPool, configuration: ParticipantConfiguration,
        logger: Logger = Logger(label: "settle.participant"), metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        precondition(OperationName.isValid(name), "participant name '\(name)' must match [a-z0-9._-]{1,64}")
        self.name = name
        self.pool = database
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "participant"] = "\(name)"
        self.logger = logger
        self.metricsFactory = metricsFactory
    }

    /// Registers an action: it runs inside the branch's transaction, which is then prepared.
    /// Throw `Refusal` for a business "no"; anything else thrown is a failure.
    public func action<Payload: Decodable & Sendable>(
        _ name: String, payload: Payload.Type = Payload.self,
        _ body: @escaping @Sendable (ParticipantTransaction, Payload) async throws -> Void
    ) {
        register(.action, name: name, payload: payload, body)
    }

    /// Registers a compensation: it undoes a committed action's effect, in its own committed
    /// transaction, at most once per branch.
    public func compensation<Payload: Decodable & Sendable>(
        _ name: String, payload: Payload.Type = Payload.self,
        _ body: @escaping @Sendable (ParticipantTransaction, Payload) async throws -> Void
    ) {
        register(.compensation, name: name, payload: payload, body)
    }

    private func register<Payload: Decodable & Sendable>(
        _ kind: HandlerRegistry.Kind, name: String, payload: Payload.Type,
        _ body: @escaping @Sendable (ParticipantTransaction, Payload) async throws -> Void
    ) {
        registry.withLock { registration in
            precondition(!registration.isStarted, "register \(kind)s before start()")
            registration.handlers.register(kind, name: name, payload: payload, body)
        }
    }

    /// Creates or migrates `settle_barrier`, runs the preflight checks (prepared transactions
    /// enabled, barrier writable, the role able to end what it prepares), and returns the server,
    /// ready to `run()`. Throws `ParticipantError` with code `.startupRefused` saying what to
    /// change.
    ///
    /// - Parameter transportSecurity: nil for plaintext (refused on an address that is not
    ///   loopback unless `configuration.allowPlaintext`), or TLS, e.g.
    ///   `.tls(certificateChain: [.file(path: "cert.pem", format: .pem)], privateKey: .file(path: "key.pem", format: .pem))`;
    ///   `.mTLS(…)` also verifies the coordinator's client certificate.
    public func start(
        host: String, port: Int, transportSecurity: HTTP2ServerTransport.Posix.TransportSecurity? = nil
    ) async throws -> ParticipantServer {
        let credentials = try checkedCredentials(plaintextOn: transportSecurity == nil ? host : nil)
        let report = try await pool.withConnection { connection in
            try await BarrierSchema.migrate(connection)
            return try await Preflight.run(connection, participant: name)
        }
        let handlers = registry.withLock { registration in
            registration.isStarted = true
            return registration.handlers
        }
        logger.info(
            "participant ready",
            metadata: [
                "max_prepared_transactions": "\(report.maxPreparedTransactions)",
                "prepared_transactions": "\(report.preparedTransactions)",
                "actions": "\(handlers.actions.keys.sorted())",
                "compensations": "\(handlers.compensations.keys.sorted())",
            ]
        )
        let phaseTwoPool = PostgresPool(
            configuration: .init(
                connectionString: pool.configuration.connectionString,
                connectionsMax: configuration.phaseTwoConnectionsMax,
                acquireTimeout: pool.configuration.acquireTimeout,
                connectTimeoutSeconds: pool.configuration.connectTimeoutSeconds
            )
        )
        let operations = BranchOperations(pool: pool, phaseTwoPool: phaseTwoPool, configuration: configuration)
        let metrics = ParticipantMetrics(participant: name, factory: metricsFactory)
        let shutdown = ShutdownNotice()
        let service = ParticipantService(
            name: name, registry: handlers, operations: operations,
            limits: RequestLimits(payloadBytesMax: configuration.payloadBytesMax),
            coordinators: Dictionary(configuration.coordinators.map { ($0.id, $0) }) { first, _ in first },
            requireSignedPhaseTwo: configuration.requireSignedPhaseTwo, metrics: metrics, logger: logger, shutdown: shutdown
        )
        let limits = ServerLimits(
            connectionsMax: configuration.connectionsMax, concurrentCallsPerConnectionMax: configuration.concurrentCallsPerConnectionMax,
            messageBytesMax: configuration.messageBytesMax, idleTimeout: configuration.connectionIdleTimeout
        )
        var transportConfiguration = limits.applied(to: .defaults) {
            metrics.recordOperation("connect", outcome: "error-too-many-connections")
        }
        // The coordinator pings its links (ParticipantLink) to notice a dead connection; allow it.
        transportConfiguration.connection.keepalive.clientBehavior = .init(
            minPingIntervalWithoutCalls: .seconds(10), allowWithoutCalls: true
        )
        let server = GRPCServer(
            transport: .http2NIOPosix(
                address: .ipv4(host: host, port: port), transportSecurity: transportSecurity ?? .plaintext,
                config: transportConfiguration
            ),
            services: [service],
            interceptors: [
                CallerAuthenticationInterceptor(credentials: credentials) {
                    metrics.recordOperation("authenticate", outcome: "error-unauthenticated")
                },
                SenderEpochInterceptor(),
                // Actions run inside the transfer's trace, so a service's own spans join it.
                ServerTraceContextInterceptor(),
            ]
        )
        return ParticipantServer(
            server: server, shutdown: shutdown, operations: operations, metrics: metrics,
            refreshInterval: configuration.inDoubtRefreshInterval,
            heuristicRollbackAfter: configuration.heuristicRollbackAfter, logger: logger
        )
    }

    /// The coordinators' tokens, once their ids are known good; plaintext only where allowed.
    private func checkedCredentials(plaintextOn host: String?) throws -> CredentialTable {
        var credentials = CredentialTable()
        guard !configuration.coordinators.isEmpty else {
            throw ParticipantError(.startupRefused, "no coordinator is configured, so nobody could call this participant")
        }
        guard Set(configuration.coordinators.map(\.id)).count == configuration.coordinators.count,
            Set(configuration.coordinators.map(\.tokenDigest)).count == configuration.coordinators.count
        else {
            throw ParticipantError(.startupRefused, "two coordinators share an id or a token: each must have its own")
        }
        for coordinator in configuration.coordinators {
            do {
                try BranchGID.validateCoordinatorID(coordinator.id)
            } catch {
                throw ParticipantError(.startupRefused, error.message)
            }
            if configuration.requireSignedPhaseTwo && coordinator.publicKeys.isEmpty {
                throw ParticipantError(.startupRefused, "coordinator \(coordinator.id) has no public key to verify its phase-two commands")
            }
            credentials.addToken(digest: coordinator.tokenDigest, name: coordinator.id)
        }
        if !configuration.requireSignedPhaseTwo {
            logger.warning("requireSignedPhaseTwo is off: anyone holding a coordinator's token can order commits and compensations")
        }
        if let host, !HostPort.isLoopback(host: host) {
            guard configuration.allowPlaintext else {
                throw ParticipantError(
                    .startupRefused,
                    "\(host) is not a loopback address and no TLS is configured; give TLS, or set allowPlaintext "
                        + "(tokens and payloads then cross the network in the clear)"
                )
            }
            logger.warning("serving plaintext on a non-loopback address (allowPlaintext)", metadata: ["host": "\(host)"])
        }
        return credentials
    }
}
