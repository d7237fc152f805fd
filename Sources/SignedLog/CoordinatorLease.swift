import PostgresClient

/// The right to act for one coordinator id, kept as a row beside a PostgreSQL log: an epoch
/// that only grows, and an expiry decided by the database's clock, never the coordinator's.
/// Whoever takes an expired lease bumps the epoch; the log seals a batch only under the lease's
/// current epoch (`PostgresSegmentSink`), so a coordinator that lost its lease cannot seal.
public struct CoordinatorLease: Sendable, Equatable {
    public let coordinatorID: String
    public let epoch: UInt32
    public let holder: String

    /// What asking for the lease found.
    public enum Attempt: Sendable, Equatable {
        case acquired(CoordinatorLease)
        /// Another holds it, for at most `expiresIn` more unless it renews.
        case heldByAnother(holder: String, epoch: UInt32, expiresIn: Duration)
    }

    /// Takes the lease if nobody holds it or its holder let it expire, for `duration`.
    public static func tryAcquire(
        coordinatorID: String, holder: String, duration: Duration, on connection: PostgresConnection
    ) async throws -> Attempt {
        do {
            return try await acquireOrRead(coordinatorID: coordinatorID, holder: holder, duration: duration, on: connection)
        } catch let error as PostgresError where error.sqlState == "42P01" {
            // The first coordinator to use this database: create the log's tables, then ask again.
            try await PostgresLogSchema.create(in: connection)
            return try await acquireOrRead(coordinatorID: coordinatorID, holder: holder, duration: duration, on: connection)
        }
    }

    private static func acquireOrRead(
        coordinatorID: String, holder: String, duration: Duration, on connection: PostgresConnection
    ) async throws -> Attempt {
        let taken = try await connection.query(
            """
            INSERT INTO settle_coordinator_leases AS lease (coordinator_id, epoch, holder, expires_at)
            VALUES ($1, 1, $2, now() + $3 * interval '1 millisecond')
            ON CONFLICT (coordinator_id) DO UPDATE
                SET epoch = lease.epoch + 1, holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
                WHERE lease.expires_at <= now()
            RETURNING epoch
            """,
            [coordinatorID, holder, duration.wholeMillisecondsForLease]
        )
        if let row = taken.first {
            return .acquired(CoordinatorLease(coordinatorID: coordinatorID, epoch: try epoch(row.decode(Int64.self, column: 0)), holder: holder))
        }
        let held = try await connection.query(
            """
            SELECT holder, epoch, greatest(0, ceil(extract(epoch FROM expires_at - now()) * 1000))::bigint
            FROM settle_coordinator_leases WHERE coordinator_id = $1
            """,
            [coordinatorID]
        )
        guard let row = held.first else {
            return try await tryAcquire(coordinatorID: coordinatorID, holder: holder, duration: duration, on: connection)
        }
        return .heldByAnother(
            holder: try row.decode(String.self, column: 0), epoch: try epoch(row.decode(Int64.self, column: 1)),
            expiresIn: .milliseconds(try row.decode(Int64.self, column: 2))
        )
    }

    /// An epoch as the table holds it; a row outside 1...UInt32.max (a table not made by Settle,
    /// without its CHECK) is an error, never a trap.
    private static func epoch(_ stored: Int64) throws -> UInt32 {
        guard let epoch = UInt32(exactly: stored), epoch >= 1 else {
            throw PostgresError(code: .server, message: "settle_coordinator_leases holds epoch \(stored), outside 1 to \(UInt32.max)")
        }
        return epoch
    }

    /// Extends the lease by `duration` from the database's now; false when it is no longer this
    /// epoch's (taken by another): the caller must stop acting at once.
    public func renew(for duration: Duration, on connection: PostgresConnection, timeout: Duration? = nil) async throws -> Bool {
        let renewed = try await connection.query(
            """
            UPDATE settle_coordinator_leases SET expires_at = now() + $3 * interval '1 millisecond'
            WHERE coordinator_id = $1 AND epoch = $2
            """,
            [coordinatorID, Int64(epoch), duration.wholeMillisecondsForLease], timeout: timeout
        )
        return renewed.commandTag == "UPDATE 1"
    }

    /// Lets the lease expire now, so a standby takes over at once after a clean stop.
    public func release(on connection: PostgresConnection) async throws {
        try await connection.query(
            "UPDATE settle_coordinator_leases SET expires_at = now() WHERE coordinator_id = $1 AND epoch = $2",
            [coordinatorID, Int64(epoch)]
        )
    }
}

extension Duration {
    fileprivate var wholeMillisecondsForLease: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
