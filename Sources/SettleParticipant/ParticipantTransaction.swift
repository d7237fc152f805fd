import PostgresClient

/// The local transaction an action or compensation runs in: its statements commit (or are
/// prepared) together with the branch's barrier row, or not at all. The closure runs SQL; the
/// library alone decides how the transaction ends.
public struct ParticipantTransaction: Sendable {
    private let connection: PostgresConnection
    /// The branch gid, for the service's own records (a posting's reference, for example).
    public let gid: String

    init(connection: PostgresConnection, gid: String) {
        self.connection = connection
        self.gid = gid
    }

    /// Runs one statement inside the transaction; values only as `$n` parameters.
    @discardableResult
    public func query(_ sql: String, _ parameters: PostgresParameters = []) async throws -> PostgresRows {
        try await connection.query(sql, parameters)
    }

    /// Sends `statements` together and reads their results in one round trip, instead of one
    /// round trip each (and one wake-up of this connection's thread each). For statements that do
    /// not need each other's results to be sent: a movement and its posting, say. A statement that
    /// fails fails the transaction, the statements after it are not run (their results are
    /// errors too). Failures are returned, not thrown: check every result and throw `Refusal` or
    /// the error. An action that returns despite a failure is not prepared either (the
    /// transaction is aborted), but its branch then fails with an internal error, not a refusal.
    public func pipeline(_ statements: [PostgresStatement]) async throws -> [Result<PostgresRows, PostgresError>] {
        try await connection.pipeline(statements)
    }
}
