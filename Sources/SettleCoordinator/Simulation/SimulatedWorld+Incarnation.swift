import SettleCore
import SettleSimulation
import Logging
import SignedLog

/// A coordinator incarnation in the simulation: settled's own parts wired as `Coordinator.run`
/// wires them, minus gRPC and files; its crash; and its clients.
extension SimulatedWorld {
    func startIncarnation(recovering: Bool) {
        let epoch = epoch.load(ordering: .relaxed)
        let logger = logger(epoch: epoch)
        let registry = TransferRegistry(log: FencedLog(world: self, epoch: epoch), inFlightMax: 100_000, rememberedMax: 100_000)
        let (starts, startSink) = AsyncStream.makeStream(of: DriverStart.self)
        let driver = TransferDriver(
            coordinatorID: Self.coordinatorID, participants: SimulatedParticipantCalls(world: self, epoch: epoch), registry: registry,
            retry: RetryPolicy(initial: .milliseconds(10), maximum: .milliseconds(80)),
            compensationRetriesMax: options.compensationAttempts, metrics: CoordinatorMetrics(), crashPoints: CrashPoints(environment: [:]),
            abortRequests: AbortRequests(), logger: logger, clock: clock, wallMilliseconds: { [clock] in Self.wallMilliseconds(clock) }
        )
        let admission = TransferAdmission(registry: registry, starts: startSink, logger: logger)
        let untold = specs.indices.filter { index in shared.withLock { $0.told[index] == nil } }
        let root = Task(executorPreference: executor) {
            var resumed: [DriverStart] = []
            if recovering {
                let (checkpoint, records) = self.log.recoveryRecords()
                do {
                    resumed = try await TransferRecovery(
                        registry: registry, sagaTimeout: .milliseconds(1000), logger: logger,
                        wallMilliseconds: { [clock = self.clock] in Self.wallMilliseconds(clock) }
                    )
                    .resume(checkpoint: checkpoint, records: records)
                } catch {
                    logger.critical("recovery failed", metadata: ["error": "\(error)"])
                }
            }
            await withDiscardingTaskGroup { group in
                group.addTask {
                    await withDiscardingTaskGroup { drivers in
                        for await start in starts { drivers.addTask { await driver.drive(start) } }
                    }
                }
                for start in resumed { startSink.yield(start) }
                for index in untold { group.addTask { await self.client(index, admission: admission, registry: registry) } }
                group.addTask { await self.checkpointNowAndThen(registry, logger: logger) }
            }
        }
        shared.withLock { shared in
            shared.registry = registry
            shared.root = root
        }
    }

    /// Fences the incarnation off (nothing it sends leaves it any more), stops its tasks, and
    /// loses what its log had not sealed.
    func crash() {
        epoch.add(1, ordering: .relaxed)
        shared.withLock { $0.root }?.cancel()
        log.crash()
    }

    /// Submits at its time, waits for the ending, and remembers what it was told. A crash cancels
    /// it; the next incarnation's client submits the same transfer again (idempotency).
    private func client(_ index: Int, admission: TransferAdmission, registry: TransferRegistry) async {
        try? await clock.sleep(until: submitAt[index])
        guard !Task.isCancelled else { return }
        let spec = specs[index]
        let accepted = CoordinatorRecord.accepted(
            spec, admission: nextAdmission(), submittedAtMilliseconds: Self.wallMilliseconds(clock), submittedBy: "sim"
        )
        do {
            switch try await admission.admit(accepted, encoded: accepted.entry(), policy: policies[index]) {
            case .admitted, .existing: break
            case .conflict(_, let why), .full(let why): violation("t\(index): submit refused: \(why)")
            case .stopped: violation("t\(index): submit refused: the registry stopped admitting")
            }
        } catch {
            violation("t\(index): submit failed: \(error)")
        }
        await registry.waitUntilFinal(spec.id)
        guard !Task.isCancelled, let entry = registry.entry(spec.id), entry.status.isFinal else { return }
        shared.withLock { $0.told[index] = entry.status }
    }

    /// A few checkpoints at times the seed picks, so recovery reads from one.
    private func checkpointNowAndThen(_ registry: TransferRegistry, logger: Logger) async {
        for _ in 0..<3 {
            try? await clock.sleep(for: randomMilliseconds(20...600))
            guard !Task.isCancelled else { return }
            _ = try? await registry.appendCheckpoint()
        }
    }

    /// Wall-clock time in the simulation: a fixed start plus the simulated time.
    static func wallMilliseconds(_ clock: ManualDriverClock) -> Int64 {
        let now = clock.now.components
        return 1_800_000_000_000 + now.seconds * 1000 + now.attoseconds / 1_000_000_000_000_000
    }

    func violation(_ text: String) {
        shared.withLock { $0.criticals.append(text) }
    }

    /// Cancels the live incarnation and lets every task run out, so no job outlives the run.
    func stop(using random: inout SeededRandom) {
        // Cancelled, the drivers' `for await` over their starts ends too.
        shared.withLock { $0.root }?.cancel()
        var steps = 0
        while steps < options.stepsMax, executor.runOne(using: &random) || clock.advance() || sealWaiting() { steps += 1 }
    }

    private func sealWaiting() -> Bool {
        guard log.waitingAppends > 0 else { return false }
        log.sealAll()
        return true
    }
}

/// An incarnation's view of the log: a dead incarnation's appends never reach it.
struct FencedLog: RecordLog {
    let world: SimulatedWorld
    let epoch: Int

    var directory: String { world.log.directory }

    func enqueue(_ entries: [LogEntry], completion: @escaping @Sendable (Result<[LSN], any Error>) -> Void) -> LSN? {
        guard world.isCurrent(epoch) else {
            // Answered only so the dead incarnation's task can end; its participant calls are
            // refused, so nothing acts on it.
            completion(.success(entries.map { _ in LSN(rawValue: 0) }))
            return LSN(rawValue: 0)
        }
        return world.log.enqueue(entries, completion: completion)
    }
}
