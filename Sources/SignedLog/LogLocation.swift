/// Where a log lives, as written in configuration and on command lines: a directory path, or a
/// PostgreSQL URL whose fragment names the log (the coordinator id that writes it), e.g.
/// `postgres://settle@db1/settle#bank-a`. Without a fragment, the database must hold one log.
public enum LogLocation: Sendable, CustomStringConvertible, Equatable {
    case directory(String)
    /// `connection` is the URL without its fragment, as libpq takes it; `logName` is nil until
    /// looked up when the location named none.
    case postgres(connection: String, logName: String?)

    public init(_ text: String) throws {
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") else {
            self = .directory(text)
            return
        }
        guard let hash = text.firstIndex(of: "#") else {
            self = .postgres(connection: text, logName: nil)
            return
        }
        let name = String(text[text.index(after: hash)...])
        guard PostgresLogSchema.isValidLogName(name) else {
            throw SignedLogError(
                .corrupted,
                "the log name after # in a PostgreSQL log location must be 1–\(PostgresLogSchema.logNameBytesMax) "
                    + "characters of letters, digits, '.', '_' and '-'"
            )
        }
        self = .postgres(connection: String(text[..<hash]), logName: name)
    }

    /// Never shows a password: a URL's credentials are cut before it is printed.
    public var description: String {
        switch self {
        case .directory(let path): return path
        case .postgres(let connection, let logName):
            return PostgresLogSchema.redacted(connection) + (logName.map { "#\($0)" } ?? "")
        }
    }

    /// The location as written, password included: what `init(_:)` parses back to this value.
    /// Never for messages (`description` is).
    public var text: String {
        switch self {
        case .directory(let path): return path
        case .postgres(let connection, let logName): return connection + (logName.map { "#\($0)" } ?? "")
        }
    }

    /// Opens the location for reading; blocking.
    func openSource() throws -> any SegmentSource {
        switch self {
        case .directory(let path): return SegmentDirectory(path: path)
        case .postgres(let connection, let logName): return try PostgresSegmentSource(connection: connection, logName: logName)
        }
    }
}
