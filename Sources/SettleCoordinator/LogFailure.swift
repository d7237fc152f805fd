import Foundation
import Logging
import SignedLog

#if canImport(Glibc)
    import Glibc
#endif

/// What settled does when its recovery log cannot be written — a full disk, a failed `fsync`:
/// it stops at once, before acting on any decision the log did not seal, with one line naming
/// the directory and the error and exit status 74 (EX_IOERR). This is the one failure that stops
/// the daemon: without a durable log it cannot decide anything safely. Restarting, once space is
/// freed or the disk repaired, recovers from the last seal; the unsealed batch was cut away.
enum LogFailure {
    static let exitStatus: Int32 = 74

    static func stop(_ error: any Error, directory: String, logger: Logger) -> Never {
        if let error = error as? SignedLogError, error.code == .deposed {
            // Not a failing disk: another daemon holds the lease now, and this one must stop.
            LeaseKeeper.stop("the log refused a seal: \(error)", coordinatorID: directory, logger: logger)
        }
        logger.critical(
            "the recovery log failed; stopping", metadata: ["directory": "\(directory)", "error": "\(error)", "exit": "\(exitStatus)"]
        )
        FileHandle.standardError.write(
            Data(
                ("settled: the recovery log in \(directory) failed: \(error). Stopping (exit status \(exitStatus)) before "
                    + "acting on anything it did not seal; free space or repair the disk, then restart settled: it recovers "
                    + "from the last seal.\n").utf8
            )
        )
        // _exit, not exit: other tasks must not run on (or atexit handlers race them) once the log is gone.
        _exit(exitStatus)
    }
}
