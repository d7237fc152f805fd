import Logging
import SettleCore
import SignedLog

/// Rebuilds the registry from the last checkpoint and the records after it, and says which
/// transfers to drive again: decided ones resume phase two; undecided ones are aborted (presumed
/// abort: no sealed COMMIT means nothing may have committed). The same code serves settled and
/// the simulator.
struct TransferRecovery {
    let registry: TransferRegistry
    /// For transfers whose policy names none.
    let sagaTimeout: Duration
    let logger: Logger
    /// Against which a resumed saga's sealed deadline is measured.
    var wallMilliseconds: @Sendable () -> Int64 = WallClock.nowMilliseconds

    /// How many transfers resume at once: their ABORT records (undecided ones) are sealed
    /// together, in a few group-commit batches, where one at a time a log with 100,000
    /// undecided transfers took one fsync each before settled could serve. Below the log's
    /// queue bound (`queuedRecordsMax`).
    static let concurrentResumesMax = 1024

    func resume(checkpoint: Checkpoint?, records: [LogRecord], logEnd: UInt64? = nil) async throws -> [DriverStart] {
        let unfinished = try registry.recover(checkpoint: checkpoint, records: records, logEnd: logEnd)
        var resumed = [DriverStart?](repeating: nil, count: unfinished.count)
        try await withThrowingTaskGroup(of: (Int, DriverStart).self) { group in
            for (index, sealed) in unfinished.enumerated() {
                if index >= Self.concurrentResumesMax, let (done, start) = try await group.next() { resumed[done] = start }
                group.addTask { (index, try await resume(sealed)) }
            }
            for try await (done, start) in group { resumed[done] = start }
        }
        logger.info(
            "recovered from the log",
            metadata: [
                "checkpoint": "\(checkpoint == nil ? "none" : "yes")", "records": "\(records.count)",
                "resumed": "\(resumed.count)", "in_flight": "\(registry.inFlightCount)",
            ]
        )
        // In the registry's order (oldest first), whatever order their records were sealed in.
        return resumed.compactMap { $0 }
    }

    private func resume(_ sealed: TransferRegistry.Sealed) async throws -> DriverStart {
        let id = sealed.spec.id
        let decision: TransferLogEntry
        var decisionLSN = sealed.decisionLSN
        if let decided = sealed.decision {
            decision = decided.entry(reason: sealed.reason ?? "")
            if decisionLSN == nil {
                // Sealed by a version that did not keep its LSN: the same decision sealed again
                // gives the commands that follow one to be signed over.
                decisionLSN = try await registry.append(Self.record(of: decided, sealed)).rawValue
            }
        } else {
            let reason = "the coordinator restarted before deciding"
            decisionLSN = try await registry.append(.abort(transferID: id, reason: reason)).rawValue
            decision = .abort(reason: reason)
        }
        let (transfer, actions) = try TransferProtocol.resuming(after: decision, branchCount: sealed.spec.branches.count)
        registry.updateLive(id) { $0.status = TransferStatus(transfer.phase) }
        return DriverStart(
            spec: sealed.spec, admission: sealed.admission, transfer: transfer, firstActions: actions, prepareTimeout: nil,
            sagaTimeout: sagaTimeLeft(sealed), decisionLSN: decisionLSN, acceptedLSN: sealed.acceptedLSN
        )
    }

    /// What is left of a saga's time: its sealed deadline, not a fresh timeout, so that restarts
    /// cannot keep a saga going for ever. (Found by `tools/chaos` seed 20261210: with `settled`
    /// killed every few seconds, sagas whose late branches waited on each other's prepared rows
    /// were re-armed for a full minute at every restart and never compensated.) A log from before
    /// the deadline was sealed gives the full timeout, as then.
    private func sagaTimeLeft(_ sealed: TransferRegistry.Sealed) -> Duration {
        let timeout = sealed.spec.policy.sagaTimeoutMilliseconds.map { Duration.milliseconds($0) } ?? sagaTimeout
        guard sealed.decision == .saga, let deadline = sealed.sagaDeadlineAtMilliseconds else { return timeout }
        return .milliseconds(min(timeout.wholeMilliseconds, max(0, deadline - wallMilliseconds())))
    }

    private static func record(of decision: Decision, _ sealed: TransferRegistry.Sealed) -> CoordinatorRecord {
        switch decision {
        case .commit: .commit(transferID: sealed.spec.id)
        case .abort: .abort(transferID: sealed.spec.id, reason: sealed.reason ?? "")
        case .saga: .saga(transferID: sealed.spec.id, deadlineAtMilliseconds: sealed.sagaDeadlineAtMilliseconds)
        case .compensate: .compensate(transferID: sealed.spec.id, reason: sealed.reason ?? "")
        }
    }
}

extension Coordinator {
    func recover(log: SignedLog, registry: TransferRegistry) async throws -> [DriverStart] {
        let (checkpoint, records) = try await log.recoveryRecords()
        return try await TransferRecovery(
            registry: registry, sagaTimeout: .milliseconds(sagaTimeoutMilliseconds), logger: logger
        ).resume(checkpoint: checkpoint, records: records, logEnd: log.lastSealedLSN.rawValue)
    }
}
