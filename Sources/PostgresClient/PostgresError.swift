/// Everything that can go wrong talking to PostgreSQL, with the context an operator needs.
///
/// `code` is the question callers branch on; `sqlState`, `message`, `detail` and `hint` are
/// PostgreSQL's own words, kept verbatim so that logs and errors can be searched for them.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// A struct over a private enum, so that codes can be added without breaking callers' switches.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case uniqueViolation
            case serializationFailure
            case deadlockDetected
            case undefinedObject
            case insufficientPrivilege
            case queryCanceled
            case lockNotAvailable
            case connectionLost
            case connectionFailed
            case timeout
            case acquireTimeout
            case poolClosed
            case pipelineAborted
            case invalidParameter
            case decoding
            case server
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// SQLSTATE 23505.
        public static let uniqueViolation = Code(.uniqueViolation)
        /// SQLSTATE 40001: retry the whole transaction.
        public static let serializationFailure = Code(.serializationFailure)
        /// SQLSTATE 40P01: retry the whole transaction.
        public static let deadlockDetected = Code(.deadlockDetected)
        /// SQLSTATE 42704; what `COMMIT PREPARED` of an unknown gid answers.
        public static let undefinedObject = Code(.undefinedObject)
        /// SQLSTATE 42501; also what finishing another role's prepared transaction answers.
        public static let insufficientPrivilege = Code(.insufficientPrivilege)
        /// SQLSTATE 57014 that Settle did not ask for (a DBA's `pg_cancel_backend`, `statement_timeout`).
        public static let queryCanceled = Code(.queryCanceled)
        /// SQLSTATE 55P03: `lock_timeout` expired or `NOWAIT` found the row taken.
        public static let lockNotAvailable = Code(.lockNotAvailable)
        /// The connection broke during or before the command; whether the command ran is unknown.
        public static let connectionLost = Code(.connectionLost)
        /// A new connection could not be opened.
        public static let connectionFailed = Code(.connectionFailed)
        /// The caller's deadline passed; the query was cancelled on the server.
        public static let timeout = Code(.timeout)
        /// No pooled connection became free within the pool's acquire timeout.
        public static let acquireTimeout = Code(.acquireTimeout)
        /// The pool was closed while waiting or before the call.
        public static let poolClosed = Code(.poolClosed)
        /// A pipelined statement that did not run because an earlier one in the same pipeline failed.
        public static let pipelineAborted = Code(.pipelineAborted)
        /// A parameter PostgreSQL cannot accept (a NUL character in text), refused before sending.
        public static let invalidParameter = Code(.invalidParameter)
        /// A result column did not have the type, or nullability, that the caller asked for.
        public static let decoding = Code(.decoding)
        /// Any other error reported by the server; see `sqlState`.
        public static let server = Code(.server)

        public var description: String { base.rawValue }

        static func fromSQLState(_ state: String) -> Code {
            switch state {
            case "23505": return .uniqueViolation
            case "40001": return .serializationFailure
            case "40P01": return .deadlockDetected
            case "42704": return .undefinedObject
            case "42501": return .insufficientPrivilege
            case "57014": return .queryCanceled
            case "55P03": return .lockNotAvailable
            // Admin shutdown, crash shutdown and the connection-exception class all mean the session is gone.
            case "57P01", "57P02", "57P03": return .connectionLost
            case _ where state.hasPrefix("08"): return .connectionLost
            default: return .server
            }
        }
    }

    public var code: Code
    public var message: String
    public var sqlState: String?
    public var detail: String?
    public var hint: String?
    /// The SQL text (never the parameters: they may hold account data).
    public var query: String?

    public init(
        code: Code,
        message: String,
        sqlState: String? = nil,
        detail: String? = nil,
        hint: String? = nil,
        query: String? = nil
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.query = query
    }

    public var description: String {
        var text = "PostgresError.\(code): \(message)"
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail { text += "; detail: \(detail)" }
        if let hint { text += "; hint: \(hint)" }
        return text
    }
}
