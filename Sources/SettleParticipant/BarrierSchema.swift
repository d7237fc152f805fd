import PostgresClient

/// The barrier table in the participant's own database, created or migrated at start-up.
///
/// Versioned through `settle_schema`, under a transaction-scoped advisory lock, so several
/// instances of one service starting together migrate once and never half-way.
enum BarrierSchema {
    static let version = 4
    /// Arbitrary but fixed: the advisory lock that serialises Settle's migrations in a database.
    private static let migrationLockKey: Int64 = 0x5E77_1E00_0000_0001

    static func migrate(_ connection: PostgresConnection) async throws {
        try await connection.withTransaction { transaction in
            try await transaction.query("SELECT pg_advisory_xact_lock($1)", [migrationLockKey])
            try await transaction.query(
                """
                CREATE TABLE IF NOT EXISTS settle_schema (
                    component text PRIMARY KEY,
                    version integer NOT NULL
                )
                """
            )
            let rows = try await transaction.query(
                "SELECT version FROM settle_schema WHERE component = 'barrier'"
            )
            let installed: Int32 = rows.isEmpty ? 0 : try rows[0].decode(column: "version")
            guard installed <= Int32(version) else {
                throw ParticipantError(
                    .startupRefused,
                    "settle_barrier is at schema version \(installed), newer than this library's \(version); upgrade the service"
                )
            }
            if installed < 1 {
                // op: 'action' (the action ran, or a cancel/compensation took its place),
                // 'cancelled' (rolled back by the coordinator), 'compensation' (compensated).
                try await transaction.query(
                    """
                    CREATE TABLE IF NOT EXISTS settle_barrier (
                        gid text NOT NULL CHECK (octet_length(gid) BETWEEN 1 AND 199),
                        op text NOT NULL CHECK (op IN ('action', 'cancelled', 'compensation')),
                        created_at timestamptz NOT NULL DEFAULT now(),
                        PRIMARY KEY (gid, op)
                    )
                    """
                )
            }
            if installed < 2 {
                // The digest of (operation name, payload) that the row's gid stands for. Nullable:
                // rows of version 1 stay valid, and a cancellation's rows carry no work.
                try await alterWhileUnlocked(transaction, "ADD COLUMN IF NOT EXISTS digest bytea", toVersion: 2)
            }
            if installed < 3 {
                // The signed order of the coordinator that caused the row (a commit's, a
                // rollback's or a compensation's): evidence, from this database alone, that a
                // sealed decision ordered it. NULL for rows from before, and for unsigned orders
                // accepted during a migration window (requireSignedPhaseTwo off).
                try await alterWhileUnlocked(
                    transaction, "ADD COLUMN IF NOT EXISTS decision_lsn bigint, ADD COLUMN IF NOT EXISTS decision_signature bytea",
                    toVersion: 3
                )
            }
            if installed < 4 {
                // The lease epoch the Prepare that claimed an action's row was sent under: with
                // the table below, evidence that no deposed coordinator prepared anything.
                try await alterWhileUnlocked(transaction, "ADD COLUMN IF NOT EXISTS sender_epoch bigint", toVersion: 4)
                // The highest lease epoch seen per coordinator id (CoordinatorEpochs): a Prepare
                // from an older one comes from a coordinator that a failover deposed.
                try await transaction.query(
                    """
                    CREATE TABLE IF NOT EXISTS settle_coordinator_epochs (
                        coordinator_id text PRIMARY KEY,
                        epoch bigint NOT NULL CHECK (epoch >= 1),
                        seen_at timestamptz NOT NULL DEFAULT now()
                    )
                    """
                )
            }
            try await transaction.query(
                """
                INSERT INTO settle_schema (component, version) VALUES ('barrier', $1)
                ON CONFLICT (component) DO UPDATE SET version = excluded.version
                """,
                [Int32(version)]
            )
        }
    }

    /// A branch still prepared holds a lock on the table that only this (not yet serving)
    /// participant could release: bounded, and refused by name, never waited for.
    private static func alterWhileUnlocked(_ transaction: PostgresConnection, _ change: String, toVersion version: Int) async throws {
        try await transaction.query("SELECT set_config('lock_timeout', '5s', true)")
        do {
            try await transaction.query("ALTER TABLE settle_barrier " + change)
        } catch let error as PostgresError where error.code == .lockNotAvailable {
            throw ParticipantError(
                .startupRefused,
                "settle_barrier cannot be upgraded to schema version \(version) while branches are prepared (they lock it); "
                    + "let the coordinator finish them with the previous version, or end them by hand with COMMIT PREPARED "
                    + "or ROLLBACK PREPARED (see pg_prepared_xacts), then start again"
            )
        }
    }
}
