import PostgresClient

/// The bank's own tables: balances that may never go negative, the deposits of pooled accounts
/// not yet folded into their balance (see `MovementSQL`), and one posting per applied movement
/// (keyed by branch gid) so that every transfer's effect can be checked afterwards.
public enum BankSchema {
    /// Creates the tables, or adds what an older version lacks. A bank restarts while branches are
    /// prepared, and a prepared transaction keeps its table locks until its coordinator ends it, so
    /// nothing here may take a table lock once the schema is current; adding the pooled accounts to
    /// an older schema does, and gives up after a few seconds with an error that says why.
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
                let current = try await transaction.query(
                    """
                    SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'pooled'
                                   AND NOT attisdropped)
                       AND to_regclass('deposits_account') IS NOT NULL AS current
                    """
                )[0].decode(Bool.self, column: "current")
                guard !current else { return }
                try await transaction.query("SET LOCAL lock_timeout = '5s'")
                do {
                    try await addPooledAccounts(transaction)
                } catch let error as PostgresError where error.code == .lockNotAvailable {
                    throw PostgresError(
                        code: error.code,
                        message: "adding pooled accounts to the bank's schema needs the accounts table to itself, and branches "
                            + "prepared before this version hold it; let their coordinator finish them, then start again"
                    )
                }
            }
        }
    }

    private static func addPooledAccounts(_ transaction: PostgresConnection) async throws {
        try await transaction.query("ALTER TABLE accounts ADD COLUMN IF NOT EXISTS pooled boolean NOT NULL DEFAULT false")
        try await transaction.query(
            """
            CREATE TABLE IF NOT EXISTS deposits (
                gid text NOT NULL,
                kind text NOT NULL,
                account text NOT NULL REFERENCES accounts (id),
                amount bigint NOT NULL CHECK (amount > 0),
                PRIMARY KEY (gid, kind)
            )
            """
        )
        try await transaction.query("CREATE INDEX IF NOT EXISTS deposits_account ON deposits (account)")
    }

    /// Sets each account's balance, creating it if needed (for demos and tests), and whether it is
    /// pooled (credited by appending deposits: for accounts that many transfers credit at once).
    public static func seed(_ pool: PostgresPool, accounts: [(id: String, balance: Int64)], pooled: Set<String> = []) async throws {
        try await pool.withConnection { connection in
            try await connection.withTransaction { transaction in
                for account in accounts {
                    try await transaction.query("DELETE FROM deposits WHERE account = $1", [account.id])
                    try await transaction.query(
                        """
                        INSERT INTO accounts (id, balance, pooled) VALUES ($1, $2, $3)
                        ON CONFLICT (id) DO UPDATE SET balance = excluded.balance, pooled = excluded.pooled
                        """,
                        [account.id, account.balance, pooled.contains(account.id)]
                    )
                }
            }
        }
    }

    /// The sum of all balances (rows and deposits), in minor units: what every transfer must conserve.
    public static func totalBalance(_ pool: PostgresPool) async throws -> Int64 {
        try await pool.query(
            "SELECT ((SELECT COALESCE(sum(balance), 0) FROM accounts) + (SELECT COALESCE(sum(amount), 0) FROM deposits))::bigint AS total"
        )[0].decode(Int64.self, column: "total")
    }

    /// Every account's balance: its row's plus its deposits not yet folded.
    public static func balances(_ pool: PostgresPool) async throws -> [String: Int64] {
        var balances: [String: Int64] = [:]
        for row in try await pool.query(MovementSQL.balances) {
            balances[try row.decode(String.self, column: "id")] = try row.decode(Int64.self, column: "balance")
        }
        return balances
    }

    public static func balance(_ pool: PostgresPool, account: String) async throws -> Int64? {
        let rows = try await pool.query(MovementSQL.balances + " WHERE a.id = $1", [account])
        return rows.isEmpty ? nil : try rows[0].decode(column: "balance")
    }
}
