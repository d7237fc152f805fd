import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import SettleCoordinator
import SettleTelemetry

/// settled: the Settle coordinator daemon. A thin main over SettleCoordinator.
@main
struct SettledCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settled",
        abstract: "The Settle coordinator: two-phase commit over PostgreSQL participants, with a signed recovery log."
    )

    @Option(help: "The JSON configuration file (see README, 'Running the coordinator: settled').")
    var config: String

    @Option(help: "Override: coordinator id.")
    var coordinatorID: String?

    @Option(help: "Override: host:port of the client API.")
    var listen: String?

    @Option(help: "Override: host:port of /metrics and /healthz.")
    var metricsListen: String?

    @Option(help: "Override: log directory, or postgres://… for a log in PostgreSQL (failover).")
    var logDirectory: String?

    @Option(help: "Override: signing key (PKCS#8 PEM, mode 0600).")
    var signingKey: String?

    @Option(
        help: ArgumentHelp(
            "Rotate the log to this signing key (PKCS#8 PEM, mode 0600), then exit; settled must be stopped.",
            discussion: "Then set signingKey to it and add the old public key to previousPublicKeys (README, \"Rotating the key\")."
        )
    )
    var rotateKey: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() async throws {
        var configuration = try CoordinatorConfiguration.load(from: config)
        if let coordinatorID { configuration.coordinatorID = coordinatorID }
        if let listen { configuration.listen = listen }
        if let metricsListen { configuration.metricsListen = metricsListen }
        if let logDirectory { configuration.logDirectory = logDirectory }
        if let signingKey { configuration.signingKey = signingKey }
        try configuration.validate()
        if let rotateKey {
            let lsn = try await LogKeyRotation.rotate(configuration: configuration, to: rotateKey)
            print(
                "settled: the log rotated to the key in \(rotateKey) at LSN \(lsn). Before starting settled: set signingKey to "
                    + "\(rotateKey), add the old key's public key to previousPublicKeys, and make sure every participant trusts "
                    + "the new public key."
            )
            return
        }

        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "settled")

        let coordinator = Coordinator(
            configuration: configuration, logger: logger, renderMetrics: { registry.emitToBuffer() },
            onReady: { endpoints in
                // Tests and tools read this line to learn the bound ports.
                FileHandle.standardOutput.write(
                    Data("settled ready api=\(endpoints.apiPort) metrics=\(endpoints.metricsPort) console=\(endpoints.consolePort)\n".utf8)
                )
            },
            onStandby: { metricsPort in
                FileHandle.standardOutput.write(Data("settled standby metrics=\(metricsPort)\n".utf8))
            }
        )
        var services: [any Service] = [coordinator]
        if let endpoint = configuration.tracingOTLPEndpoint {
            // First in the group, so it stops last and exports the coordinator's final spans.
            services.insert(try OTLPTracing.bootstrap(serviceName: "settled", endpoint: endpoint, logger: logger), at: 0)
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
    }
}
