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

    /// SQLSTATE class 53, insufficient resources, of the kinds that others finishing frees within
    /// seconds: prepared-transaction slots (`max_prepared_transactions`) and shared memory for
    /// locks (both reported as 53200), connections (53300), and the class's generic code (53000).
    /// Nothing was done, and the same request may succeed shortly: a reason to retry. A full disk
    /// (53100) stays full until an operator acts, and a configured limit (53400, such as
    /// `temp_file_limit`) stops the same statement every time: those fail the branch at once,
    /// naming the cause, and the transfer aborts with it.
    var isResourceShortage: Bool { ["53000", "53200", "53300"].contains(sqlState ?? "") }

    var isUnavailable: Bool {
        code == .connectionLost || code == .connectionFailed || code == .acquireTimeout || code == .poolClosed
    }
}
