import SettleAuth
import SettleCore

/// The clients of one running settled: their credentials, and the question every handler asks —
/// may the caller do this?
struct ClientRegistry: Sendable {
    let credentials: CredentialTable
    private let clients: [String: ClientConfiguration]

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

    /// The calling client's configuration, or PERMISSION_DENIED-worthy nil (a name the
    /// interceptor set but that is not configured cannot happen; refused all the same).
    func caller() throws -> ClientConfiguration {
        let name = try AuthenticatedCaller.required()
        guard let client = clients[name] else { throw PermissionRefusal("the caller \(name) is not a configured client") }
        return client
    }

    func validate(participants: Set<String>) throws {
        for client in clients.values {
            for permission in client.submit where !participants.contains(permission.participant) {
                throw ConfigurationError("client \(client.name): submit names participant \(permission.participant), which is not configured")
            }
        }
    }
}

/// A call refused for a missing permission; the message names it.
struct PermissionRefusal: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ClientConfiguration {
    /// Nil when every branch's action and compensation is permitted; else the first missing
    /// permission, named as `submit <participant> action|compensation <name>`.
    func refusal(toSubmit spec: TransferSpec) -> String? {
        for (index, branch) in spec.branches.enumerated() {
            let grants = submit.filter { $0.participant == branch.participant }
            if !grants.contains(where: { $0.actions.contains(branch.action) || $0.actions.contains("*") }) {
                return "client \(name) lacks permission: submit \(branch.participant) action \(branch.action) (branch \(index))"
            }
            if !branch.compensation.isEmpty,
                !grants.contains(where: { $0.compensations.contains(branch.compensation) || $0.compensations.contains("*") })
            {
                return "client \(name) lacks permission: submit \(branch.participant) compensation \(branch.compensation) (branch \(index))"
            }
            if !branch.compensationPayload.isEmpty, !grants.contains(where: \.compensationPayloads) {
                return "client \(name) lacks permission: submit \(branch.participant) compensationPayloads (branch \(index))"
            }
        }
        return nil
    }

    func mayRead(_ entry: TransferEntry) -> Bool {
        switch read {
        case .none: false
        case .own: entry.submittedBy == name
        case .all: true
        }
    }
}
