import PostgresClient
import SettleCore

/// The statements that keep every participant operation idempotent and order-safe. Every one
/// takes the gid as a parameter; none waits on a prepared transaction for longer than the
/// barrier lock timeout.
enum BarrierSQL {
    /// Claims the action's barrier row. A conflict means the action already ran, or was
    /// cancelled. A gid that is prepared holds its row in the prepared transaction, so the insert
    /// waits for it until the barrier lock timeout (`BranchOperations.prepareOnce` answers from
    /// memory a gid this process prepared, and treats the timeout as a duplicate). It does not
    /// look in `pg_prepared_xacts` first: that view lists every prepared transaction on every
    /// call, which tripled the claim's cost (0.17 against 0.08 ms with none prepared, 0.31 with
    /// 512; pgbench, this project's 2-core machine).
    /// $3: the lease epoch the Prepare was sent under (`CoordinatorEpochs`), kept as evidence.
    static let claimAction = """
        INSERT INTO settle_barrier (gid, op, digest, sender_epoch) VALUES ($1, 'action', $2, $3) ON CONFLICT DO NOTHING RETURNING op
        """

    static let insertActionIfAbsent = "INSERT INTO settle_barrier (gid, op) VALUES ($1, 'action') ON CONFLICT DO NOTHING RETURNING op"
    /// $2, $3: the order's decision LSN and signature (NULL when unsigned).
    static let insertCancelledIfAbsent = """
        INSERT INTO settle_barrier (gid, op, decision_lsn, decision_signature) VALUES ($1, 'cancelled', $2, $3)
        ON CONFLICT DO NOTHING RETURNING op
        """
    static let insertCompensationIfAbsent = """
        INSERT INTO settle_barrier (gid, op, digest, decision_lsn, decision_signature) VALUES ($1, 'compensation', $2, $3, $4)
        ON CONFLICT DO NOTHING RETURNING op
        """

    /// A committed action's row was written inside the prepared transaction, before any order
    /// existed; the order that committed it is added once the commit is done (the first one
    /// wins: every retry carries the same decision). Many commits' orders go in one round trip
    /// and one transaction (`CommitOrderRecorder`), one statement each: one statement joining
    /// them all (`UPDATE … FROM unnest(…)`) was measured and dropped, since its generic plan,
    /// made while the table was small, kept a sequential scan as the table grew (PostgreSQL's CPU
    /// per transfer 0.80 → 1.19 ms on the hot-merchant bench), where a key lookup is always one.
    static let recordCommitOrder = """
        UPDATE settle_barrier SET decision_lsn = $2, decision_signature = $3
        WHERE gid = $1 AND op = 'action' AND decision_signature IS NULL
        """

    /// The digest sealed with a committed barrier row; NULL for rows written before schema
    /// version 2 and for rows that a cancellation wrote in the action's place.
    static let digest = "SELECT digest FROM settle_barrier WHERE gid = $1 AND op = $2"

    static let state = """
        SELECT EXISTS (SELECT 1 FROM pg_prepared_xacts WHERE gid = $1 AND database = current_database()) AS prepared,
               EXISTS (SELECT 1 FROM settle_barrier WHERE gid = $1 AND op = 'cancelled') AS cancelled,
               EXISTS (SELECT 1 FROM settle_barrier WHERE gid = $1 AND op = 'action') AS action
        """

    static let inDoubt = """
        SELECT gid,
               (extract(epoch FROM prepared) * 1000)::bigint AS prepared_at_ms,
               (extract(epoch FROM now() - prepared) * 1000)::bigint AS age_ms,
               (SELECT count(DISTINCT l.pid) FROM pg_locks l
                 WHERE NOT l.granted AND l.locktype = 'transactionid' AND l.transactionid = px.transaction)::int4
                 AS blocked_sessions
        FROM pg_prepared_xacts px
        WHERE database = current_database() AND starts_with(gid, $1)
        ORDER BY prepared, gid
        """

    /// For each backend in $1 (a `{pid,...}` array literal) that waits for a lock: the prepared
    /// transaction it waits for, by gid, or the live backends blocking it. A row lock held by a
    /// prepared transaction is waited for as that transaction's id; pg_blocking_pids shows a
    /// prepared holder as 0, so those are named through pg_prepared_xacts instead.
    static let waitsFor = """
        WITH waiting AS (SELECT unnest($1::int4[]) AS pid)
        SELECT w.pid AS waiting_pid, px.gid AS blocking_gid, NULL::int4 AS blocking_pid
          FROM waiting w
          JOIN pg_locks l ON l.pid = w.pid AND NOT l.granted AND l.locktype = 'transactionid'
          JOIN pg_prepared_xacts px ON px.transaction = l.transactionid AND px.database = current_database()
        UNION ALL
        SELECT w.pid, NULL, b.pid
          FROM waiting w, unnest(pg_blocking_pids(w.pid)) AS b(pid)
         WHERE b.pid <> 0
        LIMIT 4096
        """

    static let preparedCount = """
        SELECT current_setting('max_prepared_transactions')::int AS max_prepared,
               (SELECT count(*)::int FROM pg_prepared_xacts) AS prepared
        """

    /// `SET LOCAL lock_timeout`, as a function so the value travels as a parameter.
    static func setLocalLockTimeout(_ timeout: Duration) -> PostgresStatement {
        PostgresStatement("SELECT set_config('lock_timeout', $1, true)", [milliseconds(timeout)])
    }

    /// Both bounds of a barrier transaction in one statement: every statement in the pipeline is
    /// parsed and planned by the server, on the path every branch takes.
    static func setLocalTimeouts(lock: Duration, statement: Duration) -> PostgresStatement {
        PostgresStatement(
            "SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)",
            [milliseconds(lock), milliseconds(statement)]
        )
    }

    private static func milliseconds(_ duration: Duration) -> String {
        "\(max(1, duration.wholeMilliseconds))ms"
    }
}
