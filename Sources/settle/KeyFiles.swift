import ArgumentParser
import SignedLog

/// The public keys an audit command was given: the log's first key and every key it rotated to
/// that the auditor trusts (`--public-key` once per key).
enum KeyFiles {
    static func required(_ paths: [String]) throws -> LogKeys {
        guard let keys = try optional(paths) else {
            throw ValidationError("give the log's public key with --public-key (once per key after rotations)")
        }
        return keys
    }

    /// Nil when no key was given: the command then reads without checking signatures.
    static func optional(_ paths: [String]) throws -> LogKeys? {
        paths.isEmpty ? nil : LogKeys(try paths.map { try VerifyingKey(pemFile: $0) })
    }

    static let help = ArgumentHelp(
        "A PEM public key of the log (signing-key.pub.pem); repeat it for each key the log rotated to."
    )
}
