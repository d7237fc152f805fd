import SignedLog

extension CoordinatorConfiguration {
    /// Where the log lives: `logDirectory` is a directory, or a PostgreSQL URL for failover, whose
    /// log is named by the coordinator id (a `#name` after the URL, if given, must be that id:
    /// two coordinator ids never share one log).
    /// The writer, the lease and recovery must all reach the primary, never a standby that lags
    /// it: with several hosts (libpq's multi-host URL), libpq must pick the one that accepts
    /// writes, unless the URL chose otherwise.
    static func writable(_ connection: String) -> String {
        guard !connection.contains("target_session_attrs") else { return connection }
        return connection + (connection.contains("?") ? "&" : "?") + "target_session_attrs=read-write"
    }

    public var logLocation: LogLocation {
        get throws {
            let location: LogLocation
            do {
                location = try LogLocation(logDirectory)
            } catch {
                throw ConfigurationError("logDirectory: \(error)")
            }
            switch location {
            case .directory: return location
            case .postgres(let connection, let name):
                guard name == nil || name == coordinatorID else {
                    throw ConfigurationError("logDirectory names the log \(name ?? ""), but this coordinator's id is \(coordinatorID)")
                }
                return .postgres(connection: Self.writable(connection), logName: coordinatorID)
            }
        }
    }
}
