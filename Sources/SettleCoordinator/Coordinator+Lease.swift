import Foundation
import Logging
import Metrics
import ServiceLifecycle
import SettleCore
import SignedLog

extension Coordinator {
    /// A keeper for the coordinator id's lease when the log lives in PostgreSQL; nil for files,
    /// whose directory lock already keeps one writer.
    func leaseKeeper(for location: LogLocation) -> LeaseKeeper? {
        guard case .postgres(let connection, _) = location else { return nil }
        return LeaseKeeper(
            connectionString: connection, coordinatorID: coordinatorID, duration: .milliseconds(leaseMilliseconds), logger: logger
        )
    }

    /// Waits as a standby until the lease is this daemon's; nil when graceful shutdown came first.
    func awaitLease(
        _ keeper: LeaseKeeper, whileStandby: @escaping @Sendable () -> Void
    ) async throws -> (lease: CoordinatorLease, sentAt: ContinuousClock.Instant)? {
        let waitStarted = ContinuousClock.now
        do {
            let acquired = try await cancelWhenGracefulShutdown {
                try await keeper.acquire(onStandby: { _ in whileStandby() })
            }
            logger.notice(
                "took the coordinator's lease",
                metadata: [
                    "epoch": "\(acquired.0.epoch)", "waited_ms": "\((ContinuousClock.now - waitStarted).wholeMilliseconds)",
                ]
            )
            return (acquired.0, acquired.sentAt)
        } catch is CancellationError {
            markDraining()
            return nil
        }
    }

    /// Opens the log, under the lease's epoch when it lives in PostgreSQL, and reports a torn tail
    /// that opening moved aside.
    func openLog(signingKey: SigningKey, location: LogLocation, epoch: UInt32?) async throws -> SignedLog {
        var logConfiguration = SignedLogConfiguration()
        let batchRecords = Recorder(label: "settle_log_batch_records")
        let batchDuration = Timer(label: "settle_log_batch_write_seal_sync_duration")
        logConfiguration.onBatchSealed = { records, duration in
            batchRecords.record(records)
            batchDuration.record(duration: duration)
        }
        logConfiguration.leaseEpoch = epoch
        armCrashPoints(&logConfiguration)
        let log = try await SignedLog.open(
            location: location, signingKey: signingKey,
            previousKeys: try previousPublicKeys.map { try VerifyingKey(pemFile: $0) }, configuration: logConfiguration
        )
        if let torn = log.openReport.tornTailFile {
            logger.warning("moved a torn log tail aside", metadata: ["file": "\(torn)", "bytes": "\(log.openReport.tornTailByteCount)"])
        }
        return log
    }
}
