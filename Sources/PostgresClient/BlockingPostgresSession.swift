/// A PostgreSQL session whose calls block the calling thread: for code that owns a dedicated OS
/// thread already (the recovery log's writer, which must not hand each batch to yet another
/// thread and back). Never call it from a Swift task: use `PostgresConnection` there.
///
/// One thread at a time: the session is confined to whoever uses it, like a `PGconn *`.
public final class BlockingPostgresSession: @unchecked Sendable {
    private let session: LibPQSession

    /// Opens a session from a `postgres://` URL or a `key=value` conninfo string; blocks.
    public init(
        connectingTo connectionString: String, connectTimeoutSeconds: Int = PostgresConnection.connectTimeoutSecondsDefault
    )
        throws(PostgresError)
    {
        session = try LibPQSession(
            connectionString: connectionString, connectTimeoutSeconds: connectTimeoutSeconds,
            statementCacheCapacity: PostgresConnection.statementCacheCapacityDefault
        )
    }

    /// Runs one statement; values go only as `$n` parameters.
    @discardableResult
    public func query(_ sql: String, _ parameters: PostgresParameters = []) throws(PostgresError) -> PostgresRows {
        try session.execute(sql, parameters: parameters)
    }

    /// Runs `body` between `BEGIN` and `COMMIT`, rolling back if it throws.
    public func withTransaction<Value>(_ body: () throws -> Value) throws -> Value {
        try query("BEGIN")
        let value: Value
        do {
            value = try body()
        } catch {
            _ = try? query("ROLLBACK")
            throw error
        }
        let commit = try query("COMMIT")
        guard commit.commandTag == "COMMIT" else {
            throw PostgresError(code: .server, message: "transaction was rolled back at COMMIT (tag \(commit.commandTag))", query: "COMMIT")
        }
        return value
    }

    public func close() { session.finish() }
}
