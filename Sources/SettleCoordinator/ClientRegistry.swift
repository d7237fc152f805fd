import SettleAuth
import SettleCore

/// The clients of one running settled: their credentials, and the question every handler asks —
/// may the caller do this?
struct ClientRegistry: Sendable {
    let credentials: CredentialTable
    let clients: [String: ClientConfiguration]

    init(_ configured: [ClientConfiguration]) throws {
        var credentials = CredentialTable()
        var clients: [String: ClientConfiguration] = [:]
        var digests = Set<[UInt8]>()
        var commonNames = Set<String>()
        for client in configured {
            let owner = "client \(client.name)"
            guard TransferSpec.isValidName(client.name) else {
                throw ConfigurationError("client name '\(client.name)' must match [a-z0-9._-]{1,64}")
            }
            guard clients.updateValue(client, forKey: client.name) == nil else {
                throw ConfigurationError("clients: the name \(client.name) is given twice")
            }
            guard client.credential.isGiven || client.certificateCommonName != nil else {
                throw ConfigurationError("\(owner): give a token (tokenSHA256, tokenFile or tokenEnvironment) or a certificateCommonName")
            }
            if client.credential.isGiven {
                let digest: [UInt8]
                do {
                    digest = try client.credential.digest(for: owner, allowingInline: false)
                } catch {
                    throw ConfigurationError("\(error)")
                }
                // One credential naming two clients would make the second unreachable, or either.
                guard digests.insert(digest).inserted else { throw ConfigurationError("\(owner): its token is another client's too") }
                credentials.addToken(digest: digest, name: client.name)
            }
            if let commonName = client.certificateCommonName {
                guard commonNames.insert(commonName).inserted else {
                    throw ConfigurationError("\(owner): certificate common name \(commonName) is another client's too")
                }
                credentials.addCertificate(commonName: commonName, name: client.name)
            }
        }
        guard !clients.isEmpty else { throw ConfigurationError("clients: none configured, so nobody could call settled") }
        self.credentials = credentials
        self.clients = clients
    }

    func validate(participants: Set<String>) throws {
        for client in clients.values {
            for permission in client.submit where !participants.contains(permission.participant) {
                throw ConfigurationError("client \(client.name): submit names participant \(permission.participant), which is not configured")
            }
        }
    }
}
