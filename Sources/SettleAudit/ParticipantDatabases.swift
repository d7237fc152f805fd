import Foundation
import SettleAuth

/// The participants' databases an auditor may read: a JSON object from participant name to a
/// PostgreSQL URL or conninfo, in a file (never argv: URLs may hold passwords) that only its
/// owner can read.
///
/// ```json
/// {"bank-a": "postgres://auditor@bank-a.internal/bank", "bank-b": "host=bank-b.internal user=auditor dbname=bank"}
/// ```
public enum ParticipantDatabases {
    public static func load(_ path: String) throws -> [(name: String, url: String)] {
        let file = try ConfigurationFile(path: path)
        try file.requireOwnerOnly(because: "it holds database credentials")
        let object: [String: String]
        do {
            object = try JSONDecoder().decode([String: String].self, from: Data(file.bytes))
        } catch {
            throw CredentialError("\(path) is not a JSON object from participant name to database URL: \(error)")
        }
        guard !object.isEmpty else { throw CredentialError("\(path) names no participant") }
        return object.sorted { $0.key < $1.key }.map { (name: $0.key, url: $0.value) }
    }
}
