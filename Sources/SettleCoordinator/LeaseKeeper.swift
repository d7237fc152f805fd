import Foundation
import Logging
import PostgresClient
import SignedLog
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Takes and keeps a coordinator id's lease when its log lives in PostgreSQL (README, "Running
/// Settle with failover"). While another daemon holds it, this one is a standby and waits; once it
/// holds it, it renews every quarter of the lease and stops the daemon when three quarters pass
/// without a renewal or the lease turns out taken. Stopping is a precaution, not what makes a
/// deposed daemon harmless: the log refuses its seals by epoch, and participants its Prepares.
final class LeaseKeeper: Sendable {
    static let lostExitStatus: Int32 = 75  // EX_TEMPFAIL: a supervisor restarts it as a standby
    static let standbyPollMax = Duration.milliseconds(500)

    let connectionString: String
    let coordinatorID: String
    let duration: Duration
    let holder: String
    let logger: Logger
    private let session = Mutex<PostgresConnection?>(nil)

    init(connectionString: String, coordinatorID: String, duration: Duration, logger: Logger) {
        self.connectionString = connectionString
        self.coordinatorID = coordinatorID
        self.duration = duration
        self.logger = logger
        holder = "\(ProcessInfo.processInfo.hostName) pid \(getpid())"
    }

    /// Returns once this daemon holds the lease, with when the successful request was sent (the
    /// lease runs from the database's clock at some moment after that).
    func acquire(onStandby: @Sendable (String) -> Void) async throws -> (CoordinatorLease, sentAt: ContinuousClock.Instant) {
        var saidStandby = false
        while true {
            try Task.checkCancellation()
            let sentAt = ContinuousClock.now
            do {
                switch try await CoordinatorLease.tryAcquire(coordinatorID: coordinatorID, holder: holder, duration: duration, on: connection()) {
                case .acquired(let lease):
                    return (lease, sentAt)
                case .heldByAnother(let holder, let epoch, let expiresIn):
                    if !saidStandby {
                        logger.notice("standby: another daemon holds the lease", metadata: ["holder": "\(holder)", "epoch": "\(epoch)"])
                        onStandby(holder)
                        saidStandby = true
                    }
                    // Polled at least twice a second, so a lease released by a clean stop is
                    // taken within half a second rather than when it would have expired.
                    try await Task.sleep(for: min(max(expiresIn, .milliseconds(20)), duration / 4, Self.standbyPollMax))
                }
            } catch let error where !(error is CancellationError) {
                logger.warning("cannot reach the lease's database; retrying", metadata: ["error": "\(error)"])
                await dropConnection()
                try await Task.sleep(for: duration / 4)
            }
        }
    }

    /// Renews until cancelled; returns only if the lease turns out taken, saying why. A watchdog
    /// beside the renewals stops the daemon once three quarters of the lease pass without one,
    /// whatever a renewal is doing: a call to a database behind a partition can block far longer
    /// than its timeout (libpq waits on the socket; the cancel request cannot get through either).
    func keep(_ lease: CoordinatorLease, acquiredAt: ContinuousClock.Instant) async -> String? {
        let lastRenewalSent = RenewalClock(acquiredAt)
        let watchdog = Task { [duration, coordinatorID, logger] in
            while !Task.isCancelled {
                try? await Task.sleep(for: duration / 8)
                if !Task.isCancelled, ContinuousClock.now - lastRenewalSent.instant >= duration * 3 / 4 {
                    LeaseKeeper.stop(
                        "the lease was not renewed for three quarters of leaseMilliseconds (epoch \(lease.epoch))",
                        coordinatorID: coordinatorID, logger: logger
                    )
                }
            }
        }
        defer { watchdog.cancel() }
        while !Task.isCancelled {
            try? await Task.sleep(for: duration / 4)
            if Task.isCancelled { return nil }
            let sentAt = ContinuousClock.now
            do {
                guard try await lease.renew(for: duration, on: connection(), timeout: duration / 4) else {
                    return "another daemon took the lease (this one held epoch \(lease.epoch))"
                }
                lastRenewalSent.instant = sentAt
            } catch {
                logger.warning("could not renew the lease", metadata: ["error": "\(error)", "epoch": "\(lease.epoch)"])
                await dropConnection()
            }
        }
        return nil
    }

    /// After a clean stop: a standby may take over at once instead of waiting for expiry.
    func release(_ lease: CoordinatorLease) async {
        do {
            try await lease.release(on: connection())
        } catch {
            logger.warning("could not release the lease; a standby takes over when it expires", metadata: ["error": "\(error)"])
        }
        await dropConnection()
    }

    /// Stops the daemon at once: another may already act for this coordinator id.
    static func stop(_ reason: String, coordinatorID: String, logger: Logger) -> Never {
        logger.critical("lost the coordinator's lease; stopping", metadata: ["coordinator": "\(coordinatorID)", "reason": "\(reason)"])
        FileHandle.standardError.write(
            Data("settled: lost the lease of coordinator \(coordinatorID): \(reason). Stopping (exit status \(lostExitStatus)).\n".utf8)
        )
        _exit(lostExitStatus)
    }

    private func connection() async throws -> PostgresConnection {
        if let open = session.withLock({ $0 }), !open.isBroken { return open }
        let fresh = try await PostgresConnection.connect(to: connectionString, connectTimeoutSeconds: max(1, Int(duration.components.seconds / 4)))
        let replaced = session.withLock { current in
            defer { current = fresh }
            return current
        }
        await replaced?.close()
        return fresh
    }

    private func dropConnection() async {
        await session.withLock { current in
            defer { current = nil }
            return current
        }?.close()
    }
}

/// When the last successful renewal was sent, shared with the watchdog.
private final class RenewalClock: Sendable {
    private let sent: Mutex<ContinuousClock.Instant>

    init(_ instant: ContinuousClock.Instant) { sent = Mutex(instant) }

    var instant: ContinuousClock.Instant {
        get { sent.withLock { $0 } }
        set { sent.withLock { $0 = newValue } }
    }
}
