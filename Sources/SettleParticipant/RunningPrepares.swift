import Synchronization

/// The PostgreSQL backend running each Prepare in progress, by process id, so that a lock wait
/// seen in `pg_locks` (by backend) can be named by gid for the coordinator's deadlock detector.
final class RunningPrepares: Sendable {
    private let gidsByBackend = Mutex<[Int32: String]>([:])

    /// Runs `body` with `gid` recorded as running on `backend`.
    func run<Result: Sendable>(gid: String, backend: Int32, _ body: () async throws -> Result) async throws -> Result {
        gidsByBackend.withLock { $0[backend] = gid }
        defer { _ = gidsByBackend.withLock { $0.removeValue(forKey: backend) } }
        return try await body()
    }

    /// Whether a Prepare of `gid` runs on a backend other than `backend`.
    func isRunning(_ gid: String, besides backend: Int32) -> Bool {
        gidsByBackend.withLock { running in running.contains { $0.key != backend && $0.value == gid } }
    }

    var snapshot: [Int32: String] { gidsByBackend.withLock { $0 } }
}
