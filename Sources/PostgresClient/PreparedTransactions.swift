import Foundation

/// One row of `pg_prepared_xacts`.
public struct PreparedTransaction: Sendable, Hashable {
    public let gid: String
    public let preparedAt: Date
    public let owner: String
    public let database: String
}

/// PostgreSQL's two-phase commit commands. They are utility statements that take no `$n`
/// parameters, so the gid is quoted with libpq's literal escaping, never concatenated raw.
extension PostgresConnection {
    /// PostgreSQL stores a gid in 200 bytes including its terminator.
    public static let gidBytesMax = 199

    /// `BEGIN`, `body`, then `PREPARE TRANSACTION gid`. Afterwards the session is free: the
    /// prepared transaction belongs to the server, not to this connection. If `body` throws, the
    /// transaction is rolled back and nothing is prepared.
    @discardableResult
    public func withPreparedTransaction<Result>(
        gid: String,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try Self.checkGID(gid)
        try await query("BEGIN")
        let value: Result
        do {
            value = try await body(self)
        } catch {
            await rollbackIgnoringCancellation()
            throw error
        }
        do {
            try await prepareTransaction(gid: gid)
        } catch {
            await rollbackIgnoringCancellation()
            throw error
        }
        return value
    }

    /// `PREPARE TRANSACTION gid` for a transaction the caller began itself (for example in a
    /// pipeline). Throws if the server rolled the transaction back instead of preparing it.
    public func prepareTransaction(gid: String) async throws {
        let prepared = try await runGIDCommand("PREPARE TRANSACTION", gid: gid)
        // In a transaction that an error already aborted, PREPARE TRANSACTION rolls back instead.
        guard prepared.commandTag == "PREPARE TRANSACTION" else {
            throw PostgresError(
                code: .server,
                message: "transaction was rolled back instead of prepared (tag \(prepared.commandTag))",
                query: "PREPARE TRANSACTION"
            )
        }
    }

    /// `COMMIT PREPARED`; an unknown gid throws `.undefinedObject`.
    public func commitPrepared(gid: String) async throws {
        try await runGIDCommand("COMMIT PREPARED", gid: gid)
    }

    /// `ROLLBACK PREPARED`; an unknown gid throws `.undefinedObject`.
    public func rollbackPrepared(gid: String) async throws {
        try await runGIDCommand("ROLLBACK PREPARED", gid: gid)
    }

    /// Prepared transactions whose gid starts with `gidPrefix`, in this cluster (all databases), oldest first.
    public func preparedTransactions(gidPrefix: String = "") async throws -> [PreparedTransaction] {
        let rows = try await query(
            """
            SELECT gid, prepared, owner::text AS owner, database::text AS database
            FROM pg_prepared_xacts WHERE starts_with(gid, $1) ORDER BY prepared, gid
            """,
            [gidPrefix]
        )
        return try rows.map { row throws(PostgresError) in
            PreparedTransaction(
                gid: try row.decode(column: "gid"),
                preparedAt: try row.decode(column: "prepared"),
                owner: try row.decode(column: "owner"),
                database: try row.decode(column: "database")
            )
        }
    }

    /// Quotes the gid with libpq and runs the command in the same trip to the connection's
    /// thread: one hand-off instead of two, on the path every branch takes twice.
    @discardableResult
    private func runGIDCommand(_ command: String, gid: String) async throws -> PostgresRows {
        try Self.checkGID(gid)
        return try await perform(sql: command, timeout: nil) { session throws(PostgresError) in
            try session.execute(command + " " + (try session.quotedLiteral(gid)), parameters: [])
        }
    }

    /// Before BEGIN, so a gid PostgreSQL would refuse never leaves a transaction half done.
    private static func checkGID(_ gid: String) throws {
        guard !gid.utf8.contains(0) else {
            throw PostgresError(code: .invalidParameter, message: "gid contains a NUL character")
        }
        let length = gid.utf8.count
        guard length > 0, length <= gidBytesMax else {
            throw PostgresError(
                code: .invalidParameter,
                message: "gid is \(length) bytes; PostgreSQL accepts 1 to \(gidBytesMax)"
            )
        }
    }
}
