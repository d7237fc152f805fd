/// The statements of every ExampleBank movement, public so that tools/bench's floor runs exactly
/// the SQL the participant runs, not a copy that could drift from it.
public enum MovementSQL {
    /// $1 account, $2 amount: takes money out only if it is there; no row means refused.
    public static let withdraw = "UPDATE accounts SET balance = balance - $2 WHERE id = $1 AND balance >= $2 RETURNING balance"
    /// $1 account, $2 amount.
    public static let deposit = "UPDATE accounts SET balance = balance + $2 WHERE id = $1 RETURNING balance"
    /// $1 gid, $2 kind, $3 account, $4 signed amount.
    public static let post = "INSERT INTO postings (gid, kind, account, amount) VALUES ($1, $2, $3, $4)"
}
