import PostgresClient

/// The bank's own tables: balances that may never go negative, and one posting per applied
/// movement (keyed by branch gid) so that every transfer's effect can be checked afterwards.
public enum BankSchema {
    public static func migrate(_ pool: PostgresPool) async throws {
        try await pool.withConnection { connection in
            try await connection.withTransaction { transaction in
                try await transaction.query("SELECT pg_advisory_xact_lock(7346020001)")
                try await transaction.query(
                    """
                    CREATE TABLE IF NOT EXISTS accounts (
                        id text PRIMARY KEY CHECK (octet_length(id) BETWEEN 1 AND 64),
                        balance bigint NOT NULL CHECK (balance >= 0)
                    )
                    """
                )
                try await transaction.query(
                    """
                    CREATE TABLE IF NOT EXISTS postings (
                        gid text NOT NULL,
                        kind text NOT NULL CHECK (kind IN ('debit', 'credit', 'refund', 'reverse-credit')),
                        account text NOT NULL REFERENCES accounts (id),
                        amount bigint NOT NULL,
                        created_at timestamptz NOT NULL DEFAULT now(),
                        PRIMARY KEY (gid, kind)
                    )
                    """
                )
            }
        }
    }

    /// Sets each account's balance, creating it if needed (for demos and tests).
    public static func seed(_ pool: PostgresPool, accounts: [(id: String, balance: Int64)]) async throws {
        try await pool.withConnection { connection in
            try await connection.withTransaction { transaction in
                for account in accounts {
                    try await transaction.query(
                        """
                        INSERT INTO accounts (id, balance) VALUES ($1, $2)
                        ON CONFLICT (id) DO UPDATE SET balance = excluded.balance
                        """,
                        [account.id, account.balance]
                    )
                }
            }
        }
    }

    /// The sum of all balances, in minor units: what every transfer must conserve.
    public static func totalBalance(_ pool: PostgresPool) async throws -> Int64 {
        try await pool.query("SELECT COALESCE(sum(balance), 0)::bigint AS total FROM accounts")[0].decode(column: "total")
    }

    public static func balance(_ pool: PostgresPool, account: String) async throws -> Int64? {
        let rows = try await pool.query("SELECT balance FROM accounts WHERE id = $1", [account])
        return rows.isEmpty ? nil : try rows[0].decode(column: "balance")
    }
}
