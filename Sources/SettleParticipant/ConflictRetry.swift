import PostgresClient

/// Thrown inside an operation to say "the branch's state moved under us; look again".
struct RetryOperation: Error {
    let reason: String
}

/// Runs `body` again after transient conflicts — a barrier row held by a concurrent operation on
/// the same gid, a serialization failure, a deadlock, a prepared transaction busy being ended —
/// with capped, jittered backoff. Every retry starts over with a fresh look at the branch.
func retryingConflicts<Result: Sendable>(
    operation: String, gid: String, retriesMax: Int, _ body: () async throws -> Result
) async throws -> Result {
    var lastReason = ""
    for attempt in 0...retriesMax {
        do {
            return try await body()
        } catch let retry as RetryOperation {
            lastReason = retry.reason
        } catch let error as PostgresError where error.isTransientConflict {
            lastReason = error.message
        }
        if attempt < retriesMax {
            let capMilliseconds = min(200, 5 << min(attempt, 6))
            try await Task.sleep(for: .milliseconds(Int.random(in: capMilliseconds / 2...capMilliseconds)))
        }
    }
    throw ParticipantError(
        .conflict, "\(operation) of \(gid) met a conflict \(retriesMax + 1) times (last: \(lastReason)); retry later"
    )
}

extension PostgresError {
    /// Conflicts that a fresh attempt resolves. SQLSTATE 55000 is "prepared transaction is busy"
    /// (another session is ending it right now).
    var isTransientConflict: Bool {
        code == .lockNotAvailable || code == .serializationFailure || code == .deadlockDetected || sqlState == "55000"
    }

    /// SQLSTATE class 53, insufficient resources, that others finishing frees within seconds:
    /// prepared-transaction slots (`max_prepared_transactions`, reported as 53200), shared memory
    /// for locks, connections. Nothing was done, and the same request may succeed shortly: a
    /// reason to retry. A full disk (53100) is not: it stays full until an operator acts, so the
    /// branch fails at once, naming it, and the transfer aborts with that reason.
    var isResourceShortage: Bool { sqlState?.hasPrefix("53") == true && sqlState != "53100" }

    var isUnavailable: Bool {
        code == .connectionLost || code == .connectionFailed || code == .acquireTimeout || code == .poolClosed
    }
}
