/// One way a participant's database and the coordinator's log disagree.
public struct Discrepancy: Sendable, Equatable, Codable {
    public let gid: String
    public let participant: String
    /// What the log says of this branch.
    public let log: String
    /// What the participant's database shows.
    public let database: String

    public var line: String { "\(gid)  \(participant): the log says \(log); the database shows \(database)" }
}
