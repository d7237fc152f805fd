import CLibPQ
import Foundation

/// Owns one `PGconn *`. Only the connection's own thread calls into it (the pointer is not safe
/// for concurrent use), which is why it may be marked Sendable: confinement, not locking.
final class LibPQSession: @unchecked Sendable {
    private var pointer: OpaquePointer?  // PGconn *
    /// Confined to the connection's thread, like `pointer`.
    var statementCache: StatementCache

    /// Opens a connection; blocks, so it must run on a connection thread.
    init(connectionString: String, connectTimeoutSeconds: Int, statementCacheCapacity: Int) throws(PostgresError) {
        statementCache = StatementCache(capacity: statementCacheCapacity)
        // Entries before `dbname` are defaults that the caller's string may override; entries after
        // it are pinned, because result decoding depends on them.
        let keywords = Self.overridableDefaults.map(\.keyword) + ["connect_timeout", "dbname", "client_encoding"]
        let values = Self.overridableDefaults.map(\.value) + [String(connectTimeoutSeconds), connectionString, "UTF8"]
        let connection = keywords.withCStringArray { keywordPointers in
            values.withCStringArray { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(code: .connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(connection)
            throw PostgresError(code: .connectionFailed, message: message)
        }
        // libpq prints server notices to stderr by default; a library must not write there.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        self.pointer = connection
        // Timestamps are decoded from ISO text; a cluster configured with another DateStyle must not break that.
        _ = try execute("SET DateStyle TO ISO", parameters: [])
    }

    /// A network path that dies under a connection (a pulled cable, a dropped route, a firewall
    /// that forgets the flow) sends no error: without these, a statement waits for the kernel's
    /// defaults, two hours, holding its pool slot and connection thread, and a cancel cannot
    /// reach the server either. With them a dead path is noticed in about 25 s when idle (10 s,
    /// then 3 probes 5 s apart) and 30 s after data stops being acknowledged. A long statement
    /// on a live path is not affected: the server's kernel answers the probes. (Ignored over Unix
    /// sockets; a connection string may set its own.)
    static let overridableDefaults: [(keyword: String, value: String)] = [
        ("keepalives", "1"), ("keepalives_idle", "10"), ("keepalives_interval", "5"), ("keepalives_count", "3"),
        ("tcp_user_timeout", "30000"),
    ]

    /// The options libpq connected with (PQconninfo), for tests and diagnostics.
    var connectionOptions: [String: String] {
        guard let options = PQconninfo(connection) else { return [:] }
        defer { PQconninfoFree(options) }
        var found: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { found[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        return found
    }

    deinit {
        if let pointer { PQfinish(pointer) }
    }

    var connection: OpaquePointer {
        guard let pointer else { preconditionFailure("use of a closed PostgreSQL session") }
        return pointer
    }

    var isClosed: Bool { pointer == nil }

    func finish() {
        if let pointer { PQfinish(pointer) }
        pointer = nil
    }

    var backendProcessID: Int32 { PQbackendPID(connection) }

    var isBroken: Bool { pointer == nil || PQstatus(connection) != CONNECTION_OK }

    var transactionStatus: PostgresTransactionStatus {
        guard let pointer else { return .unknown }
        switch PQtransactionStatus(pointer) {
        case PQTRANS_IDLE: return .idle
        case PQTRANS_INTRANS: return .inTransaction
        case PQTRANS_INERROR: return .failedTransaction
        case PQTRANS_ACTIVE: return .active
        default: return .unknown
        }
    }

    func makeCancelHandle() -> CancelHandle? {
        guard let cancel = PQgetCancel(connection) else { return nil }
        return CancelHandle(cancel)
    }

    /// Quotes `text` as an SQL literal with libpq's escaping, for the few utility commands that
    /// take no parameters (`PREPARE TRANSACTION 'gid'`).
    func quotedLiteral(_ text: String) throws(PostgresError) -> String {
        let bytes = Array(text.utf8)
        guard !bytes.contains(0) else {
            throw PostgresError(code: .invalidParameter, message: "literal contains a NUL character")
        }
        guard let escaped = PQescapeLiteral(connection, text, bytes.count) else {
            throw PostgresError(code: .invalidParameter, message: lastErrorMessage)
        }
        defer { PQfreemem(escaped) }
        return String(cString: escaped)
    }

    var lastErrorMessage: String {
        String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs one statement with the extended protocol, which also refuses several statements in one
    /// string; one with parameters as a named statement of the session (`StatementCache`).
    func execute(_ sql: String, parameters: PostgresParameters) throws(PostgresError) -> PostgresRows {
        let bound = try BoundParameters(parameters)
        let key = StatementCache.Key(sql: sql, types: bound.types)
        let plan = statementCache.plan(key)
        if case .prepare(let name) = plan {
            let prepared = bound.withLibPQArrays { count, types, _, _, _ in PQprepare(connection, name, sql, count, types) }
            defer { PQclear(prepared) }
            _ = try rowsOrError(prepared, sql: sql)
            statementCache.remember(key, as: name)
        }
        let result = bound.withLibPQArrays { count, types, values, lengths, formats in
            switch plan {
            case .unnamed: PQexecParams(connection, sql, count, types, values, lengths, formats, 0)
            case .prepared(let name), .prepare(let name): PQexecPrepared(connection, name, count, values, lengths, formats, 0)
            }
        }
        defer { PQclear(result) }
        return try following(key, plan, result, sql: sql)
    }

    /// `rowsOrError`, with the statement cache told what the statement did (`StatementCache.follow`).
    func following(
        _ key: StatementCache.Key, _ plan: StatementCache.Plan, _ result: OpaquePointer?, sql: String
    ) throws(PostgresError)
        -> PostgresRows
    {
        do {
            let rows = try rowsOrError(result, sql: sql)
            // Only DEALLOCATE ALL and DISCARD ALL matter: no String is made for every other tag.
            let tag = result.flatMap { PQcmdStatus($0) }.flatMap { $0.pointee == CChar(bitPattern: UInt8(ascii: "D")) ? String(cString: $0) : nil }
            statementCache.follow(key, plan, commandTag: tag, error: nil)
            return rows
        } catch {
            statementCache.follow(key, plan, commandTag: nil, error: error)
            throw error
        }
    }

    /// Turns one `PGresult` into rows, or into the error it carries.
    func rowsOrError(_ result: OpaquePointer?, sql: String) throws(PostgresError) -> PostgresRows {
        guard let result else {
            throw PostgresError(code: isBroken ? .connectionLost : .server, message: lastErrorMessage, query: sql)
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return PostgresRows(copying: result)
        case PGRES_PIPELINE_ABORTED:
            throw PostgresError(
                code: .pipelineAborted,
                message: "not run: an earlier statement in the pipeline failed",
                query: sql
            )
        default:
            throw error(from: result, sql: sql)
        }
    }

    private func error(from result: OpaquePointer, sql: String) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field("C")
        var code = sqlState.map(PostgresError.Code.fromSQLState) ?? .server
        // Whatever the server said last, a dead session is what the caller must react to.
        if isBroken { code = .connectionLost }
        let message =
            field("M")
            ?? String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
        return PostgresError(
            code: code,
            message: message.isEmpty ? lastErrorMessage : message,
            sqlState: sqlState,
            detail: field("D"),
            hint: field("H"),
            query: sql
        )
    }
}

/// What the session is doing, as libpq reports it after each command.
public enum PostgresTransactionStatus: Sendable {
    case idle
    case inTransaction
    case failedTransaction
    case active
    case unknown
}

/// Owns a `PGcancel *`, which libpq documents as safe to use from any thread.
final class CancelHandle: @unchecked Sendable {
    private let pointer: OpaquePointer  // PGcancel *

    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { PQfreeCancel(pointer) }

    /// Asks the server to cancel whatever the session is running. Blocks for one connection to the
    /// server; returns once the postmaster has signalled the backend.
    func send() {
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(pointer, &buffer, Int32(buffer.count))
    }
}

extension Array where Element == String {
    /// Calls `body` with a NULL-terminated array of C strings, valid for the duration of the call.
    func withCStringArray<R>(_ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let duplicates = map { strdup($0) }
        defer { duplicates.forEach { free($0) } }
        let pointers = duplicates.map { UnsafePointer($0) } + [nil]
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
