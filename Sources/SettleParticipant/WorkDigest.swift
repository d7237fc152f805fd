import SettleAuth

/// SHA-256 of an operation's name and payload: what binds a gid to one piece of work in the
/// barrier, so a Prepare or Compensate that reuses a gid with other work is refused instead of
/// being answered as a duplicate of the first.
struct WorkDigest: Hashable, Sendable {
    let bytes: [UInt8]

    /// The same digest a signed Prepare's or Compensate's order covers, so the `digest` column of
    /// an `action` or `compensation` row is all an auditor needs to verify its work was ordered.
    init(name: String, payload: some Collection<UInt8>) {
        bytes = SignedOrder.workDigest(name: name, payload: payload)
    }

    init(storedBytes: [UInt8]) {
        bytes = storedBytes
    }
}
