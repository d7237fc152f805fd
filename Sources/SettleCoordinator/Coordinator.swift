import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Metrics
import ServiceLifecycle
import SettleAuth
import SettleCore
import SettleProtocol
import SettleTracing
import SignedLog
import Synchronization

/// The coordinator as a swift-service-lifecycle `Service`: recovers from its log, serves the
/// client API, drives transfers, sweeps participants for orphaned branches, checkpoints, and on
/// graceful shutdown (SIGTERM) stops taking transfers and lets in-flight ones reach a logged
/// decision within the drain deadline.
public final class Coordinator: Service, Sendable {
    public struct Endpoints: Sendable, Equatable {
        public let apiPort: Int
        public let metricsPort: Int
        /// 0 when the console is off.
        public let consolePort: Int
    }

    let configuration: CoordinatorConfiguration
    let logger: Logger
    private let renderMetrics: @Sendable () -> [UInt8]
    private let onReady: @Sendable (Endpoints) -> Void
    private let onStandby: @Sendable (_ metricsPort: Int) -> Void
    private let draining = Atomic<Bool>(false)
    private let role = Atomic<UInt8>(Role.recovering.rawValue)
    private let crashPoints = CrashPoints()

    /// - Parameters:
    ///   - renderMetrics: the Prometheus text served at `/metrics` (settled passes its registry).
    ///   - onReady: called once recovery is done and both listeners are bound.
    ///   - onStandby: called when another daemon holds the lease of a log in PostgreSQL and this
    ///     one waits for it, with the bound port of `/healthz`.
    public init(
        configuration: CoordinatorConfiguration, logger: Logger, renderMetrics: @escaping @Sendable () -> [UInt8],
        onReady: @escaping @Sendable (Endpoints) -> Void = { _ in }, onStandby: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.renderMetrics = renderMetrics
        self.onReady = onReady
        self.onStandby = onStandby
    }

    public func run() async throws {
        try configuration.validate()
        let signingKey = try SigningKey(pemFile: configuration.signingKey)
        let location = try configuration.logLocation
        let metricsAddress = try HostPort(parsing: configuration.metricsListen)
        let metricsServer = MetricsHTTPServer(
            host: metricsAddress.host, port: metricsAddress.port, renderMetrics: renderMetrics, health: { [self] in health }
        )
        let keeper = leaseKeeper(for: location)
        var held: (lease: CoordinatorLease, sentAt: ContinuousClock.Instant)?
        try await withThrowingDiscardingTaskGroup { group in
            guard let metricsPort = await serving(in: &group, metricsServer.run) else {
                throw ConfigurationError("metricsListen \(configuration.metricsListen): could not listen there (see the error above)")
            }
            if let keeper {
                role.store(Role.standby.rawValue, ordering: .relaxed)
                guard let acquired = try await awaitLease(keeper, whileStandby: { [onStandby, metricsPort] in onStandby(metricsPort) }) else {
                    group.cancelAll()
                    return
                }
                held = acquired
                group.addTask { [self] in
                    if let lost = await keeper.keep(acquired.lease, acquiredAt: acquired.sentAt) {
                        LeaseKeeper.stop(lost, coordinatorID: coordinatorID, logger: logger)
                    }
                }
            }
            role.store(Role.recovering.rawValue, ordering: .relaxed)
            try await serve(signingKey: signingKey, location: location, epoch: held?.lease.epoch, metricsPort: metricsPort)
            group.cancelAll()
        }
        if let keeper, let held { await keeper.release(held.lease) }
    }

    /// Recovers from the log, serves the API and drives transfers until graceful shutdown has
    /// drained them; `epoch` is the lease's when the log lives in PostgreSQL.
    private func serve(
        signingKey: SigningKey, location: LogLocation, epoch: UInt32?, metricsPort: Int
    ) async throws {
        let log = try await openLog(signingKey: signingKey, location: location, epoch: epoch)
        // What gids, participant calls and the sweep carry: the lease's, or 1 for a log in files.
        let admissionEpoch = epoch ?? Admission.singleDaemonEpoch
        let registry = TransferRegistry(
            log: log, inFlightMax: configuration.inFlightTransfersMax, rememberedMax: configuration.rememberedTransfersMax,
            sweptParticipants: Set(configuration.participants.map(\.name))
        )
        let links = Dictionary(
            uniqueKeysWithValues: try configuration.participants.map {
                (
                    $0.name,
                    try ParticipantLink($0, callsInFlightMax: configuration.participantCallsInFlightMax, epoch: admissionEpoch)
                )
            }
        )
        let metrics = CoordinatorMetrics()
        let signer = OrderSigner(key: signingKey, batched: configuration.batchedOrderSignatures)
        let abortRequests = AbortRequests()
        let contention = ContentionMemory()
        let driver = TransferDriver(
            coordinatorID: configuration.coordinatorID,
            participants: GRPCParticipants(
                links: links, callTimeout: participantCallTimeout, signer: signer,
                commandStreams: configuration.participantCommandStreams
            ), registry: registry,
            retry: RetryPolicy(
                initial: .milliseconds(configuration.retryInitialMilliseconds), maximum: .milliseconds(configuration.retryMaxMilliseconds)
            ),
            compensationRetriesMax: configuration.compensationRetriesMax, metrics: metrics, crashPoints: crashPoints,
            abortRequests: abortRequests, logger: logger
        )
        let operatorActions = OperatorActions(
            registry: registry, nudges: driver.nudges, fourEyes: configuration.fourEyesResolution, metrics: metrics, logger: logger
        )
        let (starts, startSink) = AsyncStream.makeStream(of: DriverStart.self)
        let resumed = try await recover(log: log, registry: registry)
        let clients = try ClientRegistry(configuration.clients)
        let service = CoordinatorService(
            configuration: configuration, clients: clients, registry: registry,
            transferAdmission: TransferAdmission(registry: registry, starts: startSink, logger: logger),
            isDraining: { [self] in isDraining }, metrics: metrics, admissionEpoch: admissionEpoch,
            operatorActions: operatorActions, contention: contention, logger: logger
        )
        let api = try HostPort(parsing: configuration.listen)
        let limits = ServerLimits(
            connectionsMax: configuration.apiConnectionsMax,
            concurrentCallsPerConnectionMax: configuration.apiConcurrentCallsPerConnectionMax,
            messageBytesMax: configuration.apiMessageBytesMax, idleTimeout: .milliseconds(configuration.apiIdleTimeoutMilliseconds)
        )
        let server = GRPCServer(
            transport: .http2NIOPosix(
                address: .ipv4(host: api.host, port: api.port),
                transportSecurity: try configuration.tls?.transportSecurityCheckingKey() ?? .plaintext,
                config: limits.applied(to: .defaults) {
                    Counter(label: "settle_api_refused_total", dimensions: [("reason", "connections"), ("permission", "")]).increment()
                }
            ),
            services: [service],
            interceptors: [
                CallerAuthenticationInterceptor(credentials: clients.credentials) {
                    Counter(label: "settle_api_refused_total", dimensions: [("reason", "unauthenticated"), ("permission", "")]).increment()
                },
                ServerTraceContextInterceptor(),
            ]
        )
        try await withThrowingDiscardingTaskGroup { group in
            for link in links.values { group.addTask { try await self.untilStopping { try await link.run() } } }
            group.addTask { try await self.untilStopping { try await server.serve() } }
            group.addTask {
                await withDiscardingTaskGroup { drivers in
                    for await start in starts {
                        drivers.addTask {
                            await driver.drive(start)
                        }
                    }
                }
            }
            group.addTask {
                await self.sweepPeriodically(links: links, registry: registry, signer: signer, epoch: admissionEpoch)
            }
            group.addTask { await self.checkpointPeriodically(registry: registry, rightAway: epoch != nil) }
            if let treeHeadFile = configuration.treeHeadFile {
                let publisher = TreeHeadPublisher(
                    log: log, path: treeHeadFile, interval: .milliseconds(max(100, configuration.treeHeadIntervalMilliseconds)),
                    logger: logger
                )
                group.addTask { await publisher.run() }
            }
            if configuration.deadlockCheckIntervalMilliseconds > 0 {
                let detector = DeadlockDetector(
                    coordinatorID: configuration.coordinatorID, links: links, registry: registry, abortRequests: abortRequests,
                    contention: contention, interval: .milliseconds(configuration.deadlockCheckIntervalMilliseconds),
                    callTimeout: participantCallTimeout,
                    logger: logger
                )
                group.addTask { await detector.run() }
            }

            let watchdog = try InDoubtWatchdog(
                coordinatorID: configuration.coordinatorID, links: links,
                interval: .milliseconds(configuration.watchdogIntervalMilliseconds), callTimeout: participantCallTimeout,
                thresholds: .init(
                    oldestPreparedSeconds: Int64(configuration.watchdogOldestPreparedSeconds),
                    blockedSessions: Int(configuration.watchdogBlockedSessions),
                    preparedSlotsPercent: Int(configuration.watchdogPreparedSlotsPercent)
                ),
                logger: logger
            )
            group.addTask { await watchdog.run() }
            group.addTask { await Self.sampleHistory(metrics.history, registry: registry, log: log) }
            let consolePort = try await startConsole(
                in: &group, pages: consolePages(registry: registry, watchdog: watchdog, history: metrics.history, log: log),
                actions: operatorActions, clients: clients
            )
            let apiPort = try await server.listeningPort
            let endpoints = Endpoints(apiPort: apiPort, metricsPort: metricsPort, consolePort: consolePort)
            logger.info(
                "coordinator ready",
                metadata: [
                    "coordinator": "\(configuration.coordinatorID)", "api_port": "\(endpoints.apiPort)",
                    "metrics_port": "\(endpoints.metricsPort)", "console_port": "\(endpoints.consolePort)",
                    "resumed": "\(resumed.count)",
                    "last_lsn": "\(log.lastSealedLSN)",
                ]
            )
            role.store(Role.active.rawValue, ordering: .relaxed)
            onReady(endpoints)
            // Recovered transfers go to their drivers once the listeners are bound: their decisions
            // are sealed already, and 100,000 drivers starting first kept the API and the console
            // from binding for seconds (tools/bench recovery, 12 s to serve instead of 4).
            for start in resumed { startSink.yield(start) }
            if !resumed.isEmpty { crashPoints.reached(.duringRecovery) }

            // Runs until graceful shutdown (SIGTERM) or cancellation.
            try? await gracefulShutdown()
            draining.store(true, ordering: .relaxed)
            registry.stopAdmitting()
            logger.info("draining: no new transfers; waiting for in-flight ones to decide")
            await drain(registry)
            server.beginGracefulShutdown()
            startSink.finish()
            for link in links.values { link.shutDown() }
            group.cancelAll()
        }
        await log.close()
    }

    /// Where the daemon stands, for `/healthz`.
    enum Role: UInt8 {
        case standby, recovering, active
    }

    private var health: Health {
        if isDraining { return Health(isServing: false, state: "draining") }
        switch Role(rawValue: role.load(ordering: .relaxed)) ?? .recovering {
        case .standby: return Health(isServing: false, state: "standby")
        case .recovering: return Health(isServing: false, state: "recovering")
        case .active: return Health(isServing: true, state: "active")
        }
    }

    var coordinatorID: String { configuration.coordinatorID }
    var leaseMilliseconds: UInt32 { configuration.leaseMilliseconds }
    var previousPublicKeys: [String] { configuration.previousPublicKeys }
    func armCrashPoints(_ logConfiguration: inout SignedLogConfiguration) { crashPoints.arm(&logConfiguration) }
    func markDraining() { draining.store(true, ordering: .relaxed) }
    private var isDraining: Bool { draining.load(ordering: .relaxed) }
    var sweepIntervalMilliseconds: UInt32 { configuration.sweepIntervalMilliseconds }
    var sagaTimeoutMilliseconds: UInt32 { configuration.sagaTimeoutMilliseconds }
    var checkpointIntervalMilliseconds: UInt32 { configuration.checkpointIntervalMilliseconds }
    var participantCallTimeout: Duration { .milliseconds(configuration.participantCallTimeoutMilliseconds) }

    /// Waits until no transfer is still undecided, at most the drain deadline, and says how it went
    /// in one line.
    private func drain(_ registry: TransferRegistry) async {
        let undecidedAtStart = registry.undecidedCount
        let deadline = ContinuousClock.now + .milliseconds(configuration.drainMilliseconds)
        var undecided = undecidedAtStart
        while undecided > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
            undecided = registry.undecidedCount
        }
        let decided = undecidedAtStart - min(undecided, undecidedAtStart)
        let summary =
            "drained: \(decided) transfer\(decided == 1 ? "" : "s") decided, "
            + (undecided == 0 ? "none left undecided" : "\(undecided) left undecided (recovery will abort them)")
        if undecided == 0 { logger.notice("\(summary)") } else { logger.warning("\(summary)") }
    }

    /// Runs a long-lived part of the daemon. Once the drain is over the parts are cancelled, and
    /// the error a cancelled server throws is the expected end of a clean shutdown, not a failure
    /// to report (an operator's supervisor would count the exit status as one).
    func untilStopping(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch  where isDraining {
            logger.debug("stopped", metadata: ["error": "\(error)"])
        }
    }
}

extension GRPCServer<HTTP2ServerTransport.Posix> {
    var listeningPort: Int {
        get async throws {
            let address = try await transport.listeningAddress
            return address.ipv4?.port ?? address.ipv6?.port ?? 0
        }
    }
}
