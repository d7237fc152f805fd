import SettleAuth
import SettleCore

/// One client of settled's API, as configured: how it proves who it is, and what it may do.
public struct ClientConfiguration: Codable, Sendable, Hashable {
    /// `[a-z0-9._-]{1,64}`: appears in transfers it submits and in MANUAL records it seals.
    public var name: String
    /// Its bearer token: `tokenSHA256`, `tokenFile` or `tokenEnvironment`, never inline.
    public var credential: TokenSource
    /// The common name of its client certificate, for mutual TLS (`tls.clientCertificateAuthority`).
    public var certificateCommonName: String?
    /// What it may name in Submit; nothing when empty.
    public var submit: [SubmitPermission]
    public var read: ReadScope
    /// May Resolve (and Approve) stuck transfers.
    public var `operator`: Bool

    public enum ReadScope: String, Codable, Sendable {
        /// Get and List answer nothing.
        case none
        /// Only transfers this client submitted.
        case own
        case all
    }

    /// At `participant`: the actions a branch may run and the compensations it may name.
    /// `"*"` stands for any name. A compensation runs with its action's payload unless
    /// `compensationPayloads` is granted: otherwise a client could pair a debit of 1 with a
    /// "refund" of a million.
    public struct SubmitPermission: Codable, Sendable, Hashable {
        public var participant: String
        public var actions: [String]
        public var compensations: [String]
        public var compensationPayloads: Bool

        public init(participant: String, actions: [String], compensations: [String] = [], compensationPayloads: Bool = false) {
            self.participant = participant
            self.actions = actions
            self.compensations = compensations
            self.compensationPayloads = compensationPayloads
        }

        private enum CodingKeys: String, CodingKey { case participant, actions, compensations, compensationPayloads }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            participant = try container.decode(String.self, forKey: .participant)
            actions = try container.decode([String].self, forKey: .actions)
            compensations = try container.decodeIfPresent([String].self, forKey: .compensations) ?? []
            compensationPayloads = try container.decodeIfPresent(Bool.self, forKey: .compensationPayloads) ?? false
        }
    }

    public init(
        name: String, credential: TokenSource, certificateCommonName: String? = nil, submit: [SubmitPermission] = [],
        read: ReadScope = .own, operator: Bool = false
    ) {
        self.name = name
        self.credential = credential
        self.certificateCommonName = certificateCommonName
        self.submit = submit
        self.read = read
        self.operator = `operator`
    }

    private enum CodingKeys: String, CodingKey {
        case name, token, tokenSHA256, tokenFile, tokenEnvironment, certificateCommonName, submit, read, `operator`
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try container.decode(String.self, forKey: .name),
            credential: TokenSource(
                token: try container.decodeIfPresent(String.self, forKey: .token),
                tokenSHA256: try container.decodeIfPresent(String.self, forKey: .tokenSHA256),
                tokenFile: try container.decodeIfPresent(String.self, forKey: .tokenFile),
                tokenEnvironment: try container.decodeIfPresent(String.self, forKey: .tokenEnvironment)
            ),
            certificateCommonName: try container.decodeIfPresent(String.self, forKey: .certificateCommonName),
            submit: try container.decodeIfPresent([SubmitPermission].self, forKey: .submit) ?? [],
            read: try container.decodeIfPresent(ReadScope.self, forKey: .read) ?? .own,
            operator: try container.decodeIfPresent(Bool.self, forKey: .operator) ?? false
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encodeIfPresent(credential.tokenSHA256, forKey: .tokenSHA256)
        try container.encodeIfPresent(credential.tokenFile, forKey: .tokenFile)
        try container.encodeIfPresent(credential.tokenEnvironment, forKey: .tokenEnvironment)
        try container.encodeIfPresent(certificateCommonName, forKey: .certificateCommonName)
        try container.encode(submit, forKey: .submit)
        try container.encode(read, forKey: .read)
        try container.encode(`operator`, forKey: .operator)
    }
}
