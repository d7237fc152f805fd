import PostgresClient

/// The statements of every ExampleBank movement, public so that tools/bench's floor runs exactly
/// the SQL the participant runs, not a copy that could drift from it.
///
/// An account is credited in one of two ways. An ordinary account's balance row is updated in
/// place: the row stays locked until the branch commits, which is harmless while few transfers
/// touch it. A pooled account (a merchant that every customer pays) is credited by appending a
/// row to `deposits`, which locks nothing another credit needs (the foreign key takes only a key
/// share lock on the account row); the deposits are folded into the balance row by the account's
/// next withdrawal. Its balance is the row's plus its deposits'.
public enum MovementSQL {
    /// $1 account: moves the account's committed deposits into its balance row, so that the
    /// withdrawal that follows (in the same transaction) can spend them. Deposits that are still
    /// prepared are not visible and stay where they are.
    public static let fold = """
        WITH folded AS (DELETE FROM deposits WHERE account = $1 RETURNING amount)
        UPDATE accounts SET balance = balance + (SELECT sum(amount) FROM folded)::bigint
        WHERE id = $1 AND EXISTS (SELECT 1 FROM folded)
        """
    /// $1 account, $2 amount: takes money out only if it is there; no row means refused. Run
    /// after `fold`.
    public static let withdraw = "UPDATE accounts SET balance = balance - $2 WHERE id = $1 AND balance >= $2 RETURNING balance"
    /// $1 account, $2 amount, $3 gid, $4 kind: one row if the account exists, none if not.
    public static let deposit = """
        WITH in_place AS (
            UPDATE accounts SET balance = balance + $2 WHERE id = $1 AND NOT pooled RETURNING id
        ), appended AS (
            INSERT INTO deposits (gid, kind, account, amount)
            SELECT $3, $4, id, $2 FROM accounts WHERE id = $1 AND pooled
            RETURNING account
        )
        SELECT id FROM in_place UNION ALL SELECT account FROM appended
        """
    /// $1 gid, $2 kind, $3 account, $4 signed amount.
    public static let post = "INSERT INTO postings (gid, kind, account, amount) VALUES ($1, $2, $3, $4)"
    /// A withdrawal as ExampleBank sends it, in one round trip: `fold`, `withdraw` (one row if the
    /// money was there) and its posting. None needs another's result to be sent; when the
    /// withdrawal takes nothing, the posting is rolled back with the refusal.
    public static func withdrawal(account: String, amount: Int64, gid: String, kind: String) -> [PostgresStatement] {
        [
            PostgresStatement(fold, [account]),
            PostgresStatement(withdraw, [account, amount]),
            PostgresStatement(post, [gid, kind, account, -amount]),
        ]
    }

    /// A deposit as ExampleBank sends it, in one round trip: `deposit` (one row if the account
    /// exists) and its posting.
    public static func depositing(account: String, amount: Int64, gid: String, kind: String) -> [PostgresStatement] {
        [PostgresStatement(deposit, [account, amount, gid, kind]), PostgresStatement(post, [gid, kind, account, amount])]
    }

    /// Every account with the balance it holds: its row's plus its deposits not yet folded.
    public static let balances = """
        SELECT a.id, a.balance + COALESCE((SELECT sum(d.amount) FROM deposits d WHERE d.account = a.id), 0)::bigint AS balance
        FROM accounts a
        """
}
