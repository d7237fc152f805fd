import Synchronization

/// The work digest of each branch this process prepared and has not yet seen committed or rolled
/// back.
///
/// PostgreSQL shows nobody the rows of a prepared transaction, its barrier row included, so while
/// a branch is prepared only this process can tell whether a second Prepare of its gid carries
/// the same work. A process that restarted no longer knows: such a duplicate cannot be compared
/// and is refused, which the coordinator takes as a refusal and answers by rolling the branch
/// back (safe, since nothing is decided before every branch answered PREPARED).
final class PreparedWork: Sendable {
    enum Comparison: Equatable {
        case same, different, unknown
    }

    /// Above `max_prepared_transactions` of any real server; at the bound, nothing more is kept
    /// and a duplicate of an unrecorded gid is refused as unknown.
    static let entriesMax = 100_000

    private let digests = Mutex<[String: WorkDigest]>([:])

    func record(_ gid: String, _ digest: WorkDigest) {
        digests.withLock { table in
            if table.count < Self.entriesMax || table[gid] != nil { table[gid] = digest }
        }
    }

    func compare(_ gid: String, _ digest: WorkDigest) -> Comparison {
        guard let known = digests.withLock({ $0[gid] }) else { return .unknown }
        return known == digest ? .same : .different
    }

    func forget(_ gid: String) {
        _ = digests.withLock { $0.removeValue(forKey: gid) }
    }
}
