import SettleCore

/// Checks every request field against its documented limit before any SQL runs.
struct RequestLimits: Sendable {
    let payloadBytesMax: Int

    func validateGID(_ gid: String) throws(ParticipantError) {
        do {
            _ = try BranchGID(parsing: gid)
        } catch {
            throw ParticipantError(.invalidArgument, "gid \(OperationName.quoted(gid)) is invalid: \(error.message)")
        }
    }

    func validatePayload(_ payload: some Collection<UInt8>, for name: String) throws(ParticipantError) {
        guard payload.count <= payloadBytesMax else {
            throw ParticipantError(
                .invalidArgument,
                "payload for '\(name)' is \(payload.count) bytes; this participant accepts at most \(payloadBytesMax)"
            )
        }
    }

    func validateGIDPrefix(_ prefix: String) throws(ParticipantError) {
        let bytes = Array(prefix.utf8)
        guard !bytes.isEmpty, bytes.count <= Limits.gidBytesMax, bytes.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw ParticipantError(
                .invalidArgument, "gid prefix must be 1 to \(Limits.gidBytesMax) bytes of printable ASCII"
            )
        }
    }
}
