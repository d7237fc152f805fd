import PostgresClient

/// The tables of a log kept in PostgreSQL (protocol/recovery-log.md, "PostgreSQL storage"): a
/// segment is its header row plus its batches' rows in seal order, each batch row holding exactly
/// the frames (records and seal) a file log would append for it; the lease row fences writers.
enum PostgresLogSchema {
    static let logNameBytesMax = 64

    static let statements = [
        """
        CREATE TABLE IF NOT EXISTS settle_log_segments (
            log_name text NOT NULL,
            segment_number bigint NOT NULL CHECK (segment_number >= 0),
            header bytea NOT NULL,
            PRIMARY KEY (log_name, segment_number))
        """,
        """
        CREATE TABLE IF NOT EXISTS settle_log_batches (
            log_name text NOT NULL,
            seal_number bigint NOT NULL CHECK (seal_number >= 1),
            segment_number bigint NOT NULL,
            first_lsn bigint NOT NULL,
            last_lsn bigint NOT NULL,
            epoch bigint NOT NULL,
            frames bytea NOT NULL,
            PRIMARY KEY (log_name, seal_number),
            FOREIGN KEY (log_name, segment_number) REFERENCES settle_log_segments)
        """,
        """
        CREATE TABLE IF NOT EXISTS settle_coordinator_leases (
            coordinator_id text PRIMARY KEY,
            epoch bigint NOT NULL CHECK (epoch BETWEEN 1 AND 4294967295),
            holder text NOT NULL,
            expires_at timestamptz NOT NULL)
        """,
    ]

    /// Creates the tables once; the advisory lock keeps two coordinators starting together from
    /// racing on `CREATE TABLE IF NOT EXISTS`, which is not safe against itself.
    static func create(in session: BlockingPostgresSession) throws {
        try session.withTransaction {
            try session.query("SELECT pg_advisory_xact_lock(7346551209)")
            for statement in statements { try session.query(statement) }
        }
    }

    static func create(in connection: PostgresConnection) async throws {
        try await connection.withTransaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(7346551209)")
            for statement in statements { try await connection.query(statement) }
        }
    }

    static func isValidLogName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= logNameBytesMax
            && name.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0))
            }
    }

    /// The URL with any password replaced, for messages: the one in `user:password@`, and any
    /// `password=` or `sslpassword=` parameter.
    static func redacted(_ connection: String) -> String {
        var text = connection
        if let schemeEnd = text.range(of: "://"), let at = text[schemeEnd.upperBound...].firstIndex(of: "@"),
            let colon = text[schemeEnd.upperBound..<at].firstIndex(of: ":")
        {
            text = String(text[..<colon]) + ":***" + String(text[at...])
        }
        guard let query = text.firstIndex(of: "?") else { return text }
        let parameters = text[text.index(after: query)...].split(separator: "&", omittingEmptySubsequences: false).map { parameter in
            let key = parameter.prefix { $0 != "=" }.lowercased()
            return key == "password" || key == "sslpassword" ? "\(key)=***" : String(parameter)
        }
        return String(text[...query]) + parameters.joined(separator: "&")
    }
}
