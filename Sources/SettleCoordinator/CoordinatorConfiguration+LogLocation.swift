import SignedLog

extension CoordinatorConfiguration {
    /// Where the log lives: `logDirectory` is a directory, or a PostgreSQL URL for failover, whose
    /// log is named by the coordinator id (a `#name` after the URL, if given, must be that id:
    /// two coordinator ids never share one log).
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
            case .postgres(let connection, nil): return .postgres(connection: connection, logName: coordinatorID)
            case .postgres(let connection, let name?):
                guard name == coordinatorID else {
                    throw ConfigurationError("logDirectory names the log \(name), but this coordinator's id is \(coordinatorID)")
                }
                return .postgres(connection: connection, logName: name)
            }
        }
    }
}
