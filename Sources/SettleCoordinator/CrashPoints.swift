import Foundation
import SignedLog
import Synchronization

/// FAULT INJECTION for the crash tests: when `SETTLE_CRASH_AT` names a point, the coordinator
/// kills itself with SIGKILL the first time it reaches it, exactly as a power cut would. Unset
/// (always, outside tests) it does nothing.
struct CrashPoints: Sendable {
    enum Point: String, Sendable {
        /// Every branch answered prepared; COMMIT not yet appended.
        case afterPrepares = "after-prepares"
        /// COMMIT sealed; no Commit sent.
        case afterCommitSealed = "after-commit-sealed"
        /// One Commit answered; others not yet.
        case afterFirstCommit = "after-first-commit"
        /// Recovery re-drove a transfer's phase two and has not finished it.
        case duringRecovery = "during-recovery"
        /// The log writer has written half of a batch of at least two records (not synced, nobody
        /// answered): the next open finds a torn tail.
        case midBatch = "mid-batch"
    }

    let armed: Point?
    /// FAULT INJECTION for the storm's own test: `SETTLE_BREAK=refuse-every-prepare` makes the
    /// coordinator take every PREPARED answer for a refusal, a deliberately broken build (every
    /// transfer aborts) under which tools/chaos must fail rather than report that all is well.
    let refusesEveryPrepare: Bool
    /// FAULT INJECTION for the disk-fault tests: `SETTLE_LOG_FSYNC_FAILS_AFTER=N` makes every log
    /// `fdatasync` after the first N fail with EIO, a disk that went bad under a running settled.
    let logSyncFailsAfter: Int?

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        armed = environment["SETTLE_CRASH_AT"].flatMap(Point.init(rawValue:))
        refusesEveryPrepare = environment["SETTLE_BREAK"] == "refuse-every-prepare"
        logSyncFailsAfter = environment["SETTLE_LOG_FSYNC_FAILS_AFTER"].flatMap { Int($0) }
    }

    /// Arms the log writer for `mid-batch` and a failing `fdatasync`; the other points are
    /// reached by the coordinator itself.
    func arm(_ configuration: inout SignedLogConfiguration) {
        if let logSyncFailsAfter {
            let syncs = Mutex(0)
            configuration.faultInjectionSyncError = {
                syncs.withLock { count in
                    count += 1
                    return count > logSyncFailsAfter ? EIO : nil
                }
            }
        }
        guard armed == .midBatch else { return }
        configuration.faultInjectionTearBatch = { records, byteCount in
            guard records >= 2 else { return nil }
            Self.announce(.midBatch)
            return byteCount / 2
        }
    }

    func reached(_ point: Point) {
        guard point == armed else { return }
        Self.announce(point)
        kill(getpid(), SIGKILL)
    }

    private static func announce(_ point: Point) {
        FileHandle.standardError.write(Data("settled: SETTLE_CRASH_AT=\(point.rawValue) reached; SIGKILL\n".utf8))
    }
}
