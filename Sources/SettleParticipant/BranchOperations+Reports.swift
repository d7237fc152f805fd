import PostgresClient

/// The participant's read-only reports on its prepared branches (InDoubt, WaitsFor, Health):
/// they read `pg_prepared_xacts` and `pg_locks` on the phase-two pool and never wait on row locks.
extension BranchOperations {
    struct InDoubtBranch: Sendable, Equatable {
        let gid: String
        let preparedAtUnixMilliseconds: Int64
        let ageMilliseconds: Int64
        /// Sessions waiting for a row lock it holds.
        var blockedSessions: Int32 = 0
    }

    func inDoubt(gidPrefix: String) async throws -> [InDoubtBranch] {
        let rows = try await phaseTwoPool.query(BarrierSQL.inDoubt, [gidPrefix])
        return try rows.map { row in
            InDoubtBranch(
                gid: try row.decode(column: "gid"),
                preparedAtUnixMilliseconds: try row.decode(column: "prepared_at_ms"),
                ageMilliseconds: max(0, try row.decode(Int64.self, column: "age_ms")),
                blockedSessions: try row.decode(column: "blocked_sessions")
            )
        }
    }

    struct WaitEdge: Sendable, Equatable {
        let waitingGID: String
        let blockingGID: String
    }

    /// Edges from each running Prepare under `gidPrefix` that waits for a lock to the branch
    /// holding it (prepared, or another running Prepare); other holders are not Settle's.
    func waitsFor(gidPrefix: String) async throws -> [WaitEdge] {
        let running = runningPrepares.snapshot.filter { $0.value.hasPrefix(gidPrefix) }
        guard !running.isEmpty else { return [] }
        let backends = "{" + running.keys.map(String.init).joined(separator: ",") + "}"
        let rows = try await phaseTwoPool.query(BarrierSQL.waitsFor, [backends])
        var edges: [WaitEdge] = []
        for row in rows {
            let waitingBackend: Int32 = try row.decode(column: "waiting_pid")
            guard let waiting = running[waitingBackend] else { continue }
            let holder: String? = try row.decode(column: "blocking_gid")
            let holderBackend: Int32? = try row.decode(column: "blocking_pid")
            guard let blocking = holder ?? holderBackend.flatMap({ running[$0] }), blocking != waiting else { continue }
            edges.append(WaitEdge(waitingGID: waiting, blockingGID: blocking))
            if edges.count == Self.waitEdgesMax { break }
        }
        return edges
    }

    /// At most this many edges per answer (the protocol's bound).
    static let waitEdgesMax = 1024

    func preparedCapacity() async throws -> (maxPrepared: Int, prepared: Int) {
        let rows = try await phaseTwoPool.query(BarrierSQL.preparedCount)
        return (
            Int(try rows[0].decode(Int32.self, column: "max_prepared")),
            Int(try rows[0].decode(Int32.self, column: "prepared"))
        )
    }
}
