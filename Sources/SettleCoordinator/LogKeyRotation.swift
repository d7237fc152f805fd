import SignedLog

/// `settled --rotate-key`: moves the coordinator's log (and the orders it signs) to a new key
/// without starting a new log, while settled is stopped.
///
/// Rotation runs on its own, not inside a serving coordinator, so that no order is signed by
/// the old key after the rotation is sealed and the operator switches the configuration once:
/// participants must already trust the new public key, and settled is then started with
/// `signingKey` = the new key and the old public key in `previousPublicKeys`.
public enum LogKeyRotation {
    /// Appends the KEY ROTATION record (signed by both keys, sealed by the old one) and closes
    /// the log; returns its LSN.
    public static func rotate(configuration: CoordinatorConfiguration, to newKeyPath: String) async throws -> LSN {
        let oldKey = try SigningKey(pemFile: configuration.signingKey)
        let newKey = try SigningKey(pemFile: newKeyPath)
        let log = try await SignedLog.open(
            directory: configuration.logDirectory, signingKey: oldKey,
            previousKeys: try configuration.previousPublicKeys.map { try VerifyingKey(pemFile: $0) }
        )
        do {
            let lsn = try await log.rotateKey(to: newKey)
            await log.close()
            return lsn
        } catch {
            await log.close()
            throw error
        }
    }
}
