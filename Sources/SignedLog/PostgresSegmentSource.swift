import PostgresClient

/// Reads a log kept in PostgreSQL: a segment's bytes are its header row followed by its batch
/// rows' frames in seal order, exactly what the file of the same number would hold. A missing or
/// altered row therefore fails the same checks (LSN, chain, seal number, signature) as a cut or
/// altered file would.
final class PostgresSegmentSource: SegmentSource {
    let logName: String
    private let session: BlockingPostgresSession
    private let place: String

    private let ownsSession: Bool

    init(connection: String, logName: String?) throws {
        session = try Self.connect(to: connection)
        ownsSession = true
        self.logName = try logName ?? Self.onlyLogName(in: session, connection: connection)
        place = "\(PostgresLogSchema.redacted(connection))#\(self.logName)"
    }

    /// Reads on a session someone else owns: recovery reads the log on the very session that
    /// checked the lease and that the writer will use, never on another that libpq might have
    /// sent to a lagging standby.
    init(session: BlockingPostgresSession, logName: String, connection: String) {
        self.session = session
        ownsSession = false
        self.logName = logName
        place = "\(PostgresLogSchema.redacted(connection))#\(logName)"
    }

    deinit { if ownsSession { session.close() } }

    /// The one log a database holds, for a location that named none.
    private static func onlyLogName(in session: BlockingPostgresSession, connection: String) throws -> String {
        let rows = try database { try session.query("SELECT DISTINCT log_name FROM settle_log_segments ORDER BY 1 LIMIT 3") }
        let names = try rows.map { row in try database { try row.decode(String.self, column: 0) } }
        guard names.count == 1 else {
            let found = names.isEmpty ? "no log" : "the logs \(names.joined(separator: ", "))"
            throw SignedLogError(
                .corrupted, "\(PostgresLogSchema.redacted(connection)) holds \(found); name the log after # in the location"
            )
        }
        return names[0]
    }

    func segmentNumbers() throws -> [UInt64] {
        let rows = try Self.database {
            try session.query("SELECT segment_number FROM settle_log_segments WHERE log_name = $1 ORDER BY 1", [logName])
        }
        let numbers = try rows.map { row in
            let stored = try Self.database { try row.decode(Int64.self, column: 0) }
            guard let number = UInt64(exactly: stored) else {
                throw SignedLogError(.corrupted, "\(place) holds segment number \(stored)")
            }
            return number
        }
        return try Self.checkedContiguous(numbers, in: place)
    }

    func readHeader(of number: UInt64) throws -> SegmentHeader {
        try checkedHeader(try headerBytes(of: number), number: number)
    }

    func readSegment(_ number: UInt64) throws -> [UInt8] {
        var bytes = try headerBytes(of: number)
        let rows = try Self.database {
            try session.query(
                "SELECT frames FROM settle_log_batches WHERE log_name = $1 AND segment_number = $2 ORDER BY seal_number",
                [logName, Int64(number)]
            )
        }
        for row in rows { bytes += try Self.database { try row.decode([UInt8].self, column: 0) } }
        return bytes
    }

    func totalByteCount(of numbers: [UInt64]) throws -> Int {
        let rows = try Self.database {
            try session.query(
                """
                SELECT coalesce((SELECT sum(length(header)) FROM settle_log_segments WHERE log_name = $1), 0)
                     + coalesce((SELECT sum(length(frames)) FROM settle_log_batches WHERE log_name = $1), 0)
                """,
                [logName]
            )
        }
        guard let row = rows.first else { return 0 }
        return Int(try Self.database { try row.decode(Int64.self, column: 0) })
    }

    func tornTailFiles() throws -> [String] { [] }

    private func headerBytes(of number: UInt64) throws -> [UInt8] {
        let rows = try Self.database {
            try session.query(
                "SELECT header FROM settle_log_segments WHERE log_name = $1 AND segment_number = $2", [logName, Int64(number)]
            )
        }
        guard let row = rows.first else {
            throw SignedLogError(.corrupted, "segment \(number) is missing from \(place)", segment: SegmentDirectory.segmentName(number))
        }
        return try Self.database { try row.decode([UInt8].self, column: 0) }
    }

    /// A session to the log's database; a failure says which database, password hidden.
    static func connect(to connection: String) throws -> BlockingPostgresSession {
        do {
            return try BlockingPostgresSession(connectingTo: connection)
        } catch {
            throw SignedLogError(.database, "cannot connect to the log's database \(PostgresLogSchema.redacted(connection)): \(error)")
        }
    }

    /// A database failure, as the log's error.
    static func database<Value>(_ body: () throws -> Value) throws -> Value {
        do {
            return try body()
        } catch let error as PostgresError {
            throw SignedLogError(.database, "the log's database: \(error)")
        }
    }
}
