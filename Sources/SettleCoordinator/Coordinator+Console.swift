import Metrics
import SignedLog

extension Coordinator {
    /// Starts the console's listener in `group` unless it is off; returns its bound port (0 when off).
    func startConsole(
        in group: inout ThrowingDiscardingTaskGroup<any Error>, pages: ConsolePages, actions: OperatorActions, clients: ClientRegistry
    ) async throws -> Int {
        guard let address = try configuration.consoleAddress else { return 0 }
        let console = try ConsoleServer(
            address: address, coordinatorID: configuration.coordinatorID, pages: pages, actions: actions, clients: clients,
            sessionMinutes: configuration.consoleSessionMinutes, secureCookies: configuration.consoleSecureCookies,
            tls: configuration.tls, logger: logger
        )
        guard let port = await serving(in: &group, console.run) else {
            throw ConfigurationError("consoleListen \(configuration.consoleListen): the console could not listen there (see the error above)")
        }
        return port
    }

    /// Runs a listener in `group` until settled stops and returns the port it bound; nil when it
    /// ended without binding (its error then ends the group), so settled stops rather than waits.
    func serving(
        in group: inout ThrowingDiscardingTaskGroup<any Error>,
        _ run: @escaping @Sendable (_ bound: @escaping @Sendable (Int) -> Void) async throws -> Void
    ) async -> Int? {
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        group.addTask {
            defer { portSink.finish() }
            try await self.untilStopping {
                try await run { port in
                    portSink.yield(port)
                    portSink.finish()
                }
            }
        }
        for await port in ports { return port }
        return nil
    }

    func consolePages(registry: TransferRegistry, watchdog: InDoubtWatchdog, history: ActivityHistory, log: SignedLog) -> ConsolePages {
        ConsolePages(
            coordinatorID: configuration.coordinatorID, registry: registry, watchdog: watchdog, history: history,
            participants: configuration.participants, fourEyes: configuration.fourEyesResolution,
            watchdogIntervalMilliseconds: configuration.watchdogIntervalMilliseconds, log: log
        )
    }

    /// Closes one second of the console's activity history each second, and counts the stuck
    /// transfers for `settle_transfers_stuck`.
    static func sampleHistory(_ history: ActivityHistory, registry: TransferRegistry, log: SignedLog) async {
        let stuck = Gauge(label: "settle_transfers_stuck")
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            stuck.record(registry.stuckCount)
            let seal = log.latestSeal
            history.tick(
                atMilliseconds: WallClock.nowMilliseconds(), inFlight: registry.inFlightCount, sealNumber: seal?.number ?? 0,
                lastLSN: seal?.lastLSN.rawValue ?? 0
            )
        }
    }
}
