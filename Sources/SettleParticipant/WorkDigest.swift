import SignedLog

/// SHA-256 of an operation's name and payload: what binds a gid to one piece of work in the
/// barrier, so a Prepare or Compensate that reuses a gid with other work is refused instead of
/// being answered as a duplicate of the first.
struct WorkDigest: Hashable, Sendable {
    let bytes: [UInt8]

    /// Names are `[a-z0-9._-]`, never NUL, so the NUL separator makes the encoding unambiguous.
    init(name: String, payload: some Collection<UInt8>) {
        var hasher = SHA256Hasher()
        hasher.update(Array(name.utf8))
        hasher.update([0])
        hasher.update(payload)
        bytes = hasher.finalize().bytes
    }

    init(storedBytes: [UInt8]) {
        bytes = storedBytes
    }
}
