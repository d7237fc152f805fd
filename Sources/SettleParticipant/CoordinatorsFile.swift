import Foundation
import SettleAuth
import SignedLog

/// The coordinators a participant service serves, as a JSON file (the README's "Embedding the
/// participant library" shows it):
///
/// ```json
/// [{"id": "walk", "tokenFile": "/etc/bank-a/walk.token", "publicKeys": ["/etc/bank-a/walk.pub.pem"]}]
/// ```
///
/// Each token is given as `tokenSHA256`, `tokenFile` (mode 0600), `tokenEnvironment`, or `token`
/// inline — and then the file holds a secret and must be readable by its owner only.
public enum CoordinatorsFile {
    private struct Item: Decodable {
        var id: String
        var token: String?
        var tokenSHA256: String?
        var tokenFile: String?
        var tokenEnvironment: String?
        var publicKeys: [String]
    }

    /// Writes a file naming each coordinator by its id, the SHA-256 of its token and its public
    /// key file (so the file holds no secret), for tools that set up a deployment.
    public static func write(_ path: String, coordinators: [(id: String, token: String, publicKeyFile: String)]) throws {
        let items = coordinators.map { coordinator in
            ["id": coordinator.id, "tokenSHA256": TokenSource.hexDigest(ofToken: coordinator.token), "publicKeys": [coordinator.publicKeyFile]]
                as [String: Any]
        }
        try JSONSerialization.data(withJSONObject: items, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: path))
    }

    public static func load(_ path: String) throws -> [CoordinatorCredential] {
        let file = try ConfigurationFile(path: path)
        let items: [Item]
        do {
            items = try JSONDecoder().decode([Item].self, from: Data(file.bytes))
        } catch {
            throw CredentialError("\(path) is not a list of coordinators: \(error)")
        }
        if items.contains(where: { $0.token != nil }) { try file.requireOwnerOnly(because: "it holds a token inline") }
        guard !items.isEmpty else { throw CredentialError("\(path) names no coordinator") }
        guard Set(items.map(\.id)).count == items.count else { throw CredentialError("\(path) names a coordinator twice") }
        return try items.map { item in
            let owner = "coordinator \(item.id) in \(path)"
            guard !item.publicKeys.isEmpty else { throw CredentialError("\(owner): give its publicKeys (PEM files)") }
            let source = TokenSource(
                token: item.token, tokenSHA256: item.tokenSHA256, tokenFile: item.tokenFile, tokenEnvironment: item.tokenEnvironment
            )
            return CoordinatorCredential(
                id: item.id, tokenDigest: try source.digest(for: owner, allowingInline: true),
                publicKeys: try item.publicKeys.map { try VerifyingKey(pemFile: $0) }
            )
        }
    }
}
