import Foundation
import SettleAuth
import SettleCore

/// settled's configuration: a JSON file (documented in the README), overridable by flags.
public struct CoordinatorConfiguration: Decodable, Sendable {
    public struct Participant: Codable, Sendable, Hashable {
        /// `[a-z0-9._-]{1,64}`, as transfers name it.
        public var name: String
        /// host:port of its participant endpoint.
        public var address: String
        /// The bearer token it expects from this coordinator: `tokenFile` (mode 0600),
        /// `tokenEnvironment`, or `token` inline (then the configuration file holds a secret and
        /// must be readable by its owner only).
        public var credential: TokenSource
        /// Plaintext unless given (see `ParticipantTLSConfiguration`).
        public var tls: ParticipantTLSConfiguration?

        public init(name: String, address: String, credential: TokenSource, tls: ParticipantTLSConfiguration? = nil) {
            self.name = name
            self.address = address
            self.credential = credential
            self.tls = tls
        }

        private enum CodingKeys: String, CodingKey { case name, address, token, tokenFile, tokenEnvironment, tls }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                name: try container.decode(String.self, forKey: .name), address: try container.decode(String.self, forKey: .address),
                credential: TokenSource(
                    token: try container.decodeIfPresent(String.self, forKey: .token),
                    tokenFile: try container.decodeIfPresent(String.self, forKey: .tokenFile),
                    tokenEnvironment: try container.decodeIfPresent(String.self, forKey: .tokenEnvironment)
                ),
                tls: try container.decodeIfPresent(ParticipantTLSConfiguration.self, forKey: .tls)
            )
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(address, forKey: .address)
            try container.encodeIfPresent(credential.tokenFile, forKey: .tokenFile)
            try container.encodeIfPresent(credential.tokenEnvironment, forKey: .tokenEnvironment)
            try container.encodeIfPresent(tls, forKey: .tls)
        }
    }

    /// `[a-z0-9-]{1,32}`; part of every gid, so several coordinators can share participants.
    public var coordinatorID: String
    /// host:port of the client API (gRPC).
    public var listen: String
    /// TLS for the client API; plaintext when absent.
    public var tls: APITLSConfiguration?
    /// host:port of `/metrics` and `/healthz` (plain HTTP); loopback unless configured otherwise.
    public var metricsListen: String
    public static let defaultMetricsListen = "127.0.0.1:7101"
    public var logDirectory: String
    /// PKCS#8 PEM Ed25519 key that seals the log (mode 0600).
    public var signingKey: String
    /// The public keys (PEM files) the log was signed with before it rotated to `signingKey`
    /// (`settled --rotate-key`): recovery reads records sealed in their epochs.
    public var previousPublicKeys: [String] = []
    /// Where to publish the log's latest signed tree head for an external witness (nil: not
    /// published), and how often.
    public var treeHeadFile: String?
    public var treeHeadIntervalMilliseconds: UInt32 = 10_000
    /// With the log in PostgreSQL: how long the coordinator's lease lasts unless renewed. A
    /// standby takes over at most this long after the active one dies; the active one renews
    /// every quarter of it and stops acting once three quarters pass without a renewal.
    public var leaseMilliseconds: UInt32 = 10_000
    /// Who may call the API, and what each may do (see `ClientConfiguration`).
    public var clients: [ClientConfiguration]
    /// Four-eyes resolution: Resolve only proposes, and a second, different operator's Approve
    /// makes the MANUAL decision.
    public var fourEyesResolution = false
    /// Plaintext (no `tls`) on a listener that is not loopback is refused unless this is set.
    public var allowPlaintext = false
    /// Open API connections at most; one more is closed when accepted.
    public var apiConnectionsMax = 1024
    /// Concurrent calls (HTTP/2 streams) per API connection.
    public var apiConcurrentCallsPerConnectionMax = 256
    /// Largest API request message (a Submit), refused before it is read.
    public var apiMessageBytesMax = 4 << 20
    /// An API connection with no call for this long is closed (clients reconnect on their own).
    public var apiIdleTimeoutMilliseconds: UInt32 = 300_000
    public var participants: [Participant]
    public var prepareTimeoutMilliseconds: UInt32 = 5000
    public var onPrepareTimeout: TransferSpec.OnPrepareTimeout = .abort
    /// For transfers that do not choose: `parallel`, `ordered` (see `TransferSpec.PrepareOrder`),
    /// or `adaptive`: parallel unless two of the transfer's participants recently deadlocked
    /// (`ContentionMemory`).
    public var prepareOrder: DefaultPrepareOrder = .adaptive
    public var sagaTimeoutMilliseconds: UInt32 = 60_000
    /// How often every participant is asked for in-doubt branches under this coordinator's prefix.
    public var sweepIntervalMilliseconds: UInt32 = 5000
    public var checkpointIntervalMilliseconds: UInt32 = 30_000
    /// Phase-two retries: capped exponential backoff with jitter, forever (the decision stands).
    public var retryInitialMilliseconds: UInt32 = 50
    public var retryMaxMilliseconds: UInt32 = 5000
    /// Attempts at one compensation (with the backoff above) before the transfer is declared stuck.
    public var compensationRetriesMax: Int = 20
    /// Transfers accepted but not finished, at most; beyond it Submit answers RESOURCE_EXHAUSTED.
    public var inFlightTransfersMax: Int = 10_000
    /// Finished transfers remembered for Submit idempotency and Get (also kept in checkpoints).
    public var rememberedTransfersMax: Int = 50_000
    /// How long SIGTERM waits for in-flight transfers to reach a logged decision.
    public var drainMilliseconds: UInt32 = 10_000
    /// The deadline of each Commit, Rollback, Compensate and in-doubt call to a participant. A call
    /// that passes it counts as a failed attempt and is retried, so a participant that accepts
    /// connections and never answers cannot hold a transfer, a compensation or the sweep for ever.
    public var participantCallTimeoutMilliseconds: UInt32 = 10_000
    /// Calls at once to one participant, of each kind (Prepare, Commit, Rollback, Compensate);
    /// more wait their turn in settled, and their deadlines start once sent. Above what the
    /// participant serves at once (its database pool), more only queue there, where they time out.
    public var participantCallsInFlightMax: Int = 128
    /// Prepares, Commits and Rollbacks as commands of one long-lived `Branches` call per kind and
    /// participant; false sends each as its own unary call (for a proxy in between that cuts
    /// long-lived calls, or to compare the two). A participant without `Branches` gets unary calls
    /// either way.
    public var participantCommandStreams = true
    /// Orders asked for together are signed as one batch: one signature over a Merkle root,
    /// each order carrying its audit path (protocol/signed-orders.md). False signs each order
    /// alone, for participants built before batch seals, which refuse them.
    public var batchedOrderSignatures = true
    /// A Submit whose ACCEPTED record (the transfer as logged, JSON-escaped) would be larger is
    /// refused with INVALID_ARGUMENT before anything is logged.
    public var acceptedRecordBytesMax: Int = 1 << 20
    /// How often, while transfers prepare, participants are asked who waits for whom, to break
    /// deadlocks across databases (0 turns the detector off).
    public var deadlockCheckIntervalMilliseconds: UInt32 = 100
    /// An OpenTelemetry collector (OTLP over gRPC, `http://host:4317` or `https://…`) to export
    /// spans to; nil exports nothing (trace context is still passed on when a caller sends one
    /// and a tracer is bootstrapped).
    public var tracingOTLPEndpoint: String?
    /// The operator's console (README, "The operator's console"): host:port, or "off".
    public var consoleListen = Self.defaultConsoleListen
    public static let defaultConsoleListen = "127.0.0.1:7102"
    /// Whether the console's cookies carry `Secure`; nil: unless the console listens on loopback.
    /// Set it to true when a TLS proxy on this host serves the console.
    public var consoleSecureCookies: Bool?
    /// A console session ends after this many minutes without a request (and after 12 hours).
    public var consoleSessionMinutes: UInt32 = 30
    /// How often the in-doubt watchdog asks every participant for its prepared branches.
    public var watchdogIntervalMilliseconds: UInt32 = 5000
    /// The watchdog warns when a branch has been prepared this long,
    public var watchdogOldestPreparedSeconds: UInt32 = 60
    /// when this many sessions wait for locks that prepared branches hold,
    public var watchdogBlockedSessions: UInt32 = 1
    /// or when this share of a database's prepared-transaction slots is in use.
    public var watchdogPreparedSlotsPercent: UInt32 = 80
    /// Largest `acceptedRecordBytesMax`: unfinished transfers travel whole in every checkpoint.
    public static let acceptedRecordBytesMaxLimit = Limits.checkpointBytesBudget / 2

    public init(
        coordinatorID: String, listen: String, metricsListen: String, logDirectory: String, signingKey: String,
        clients: [ClientConfiguration], participants: [Participant]
    ) {
        self.coordinatorID = coordinatorID
        self.listen = listen
        self.metricsListen = metricsListen
        self.logDirectory = logDirectory
        self.signingKey = signingKey
        self.clients = clients
        self.participants = participants
    }

    private enum CodingKeys: String, CodingKey {
        case coordinatorID, listen, metricsListen, logDirectory, signingKey, clients, participants, clientTokens
        case fourEyesResolution, allowPlaintext, apiConnectionsMax, apiConcurrentCallsPerConnectionMax, apiMessageBytesMax
        case apiIdleTimeoutMilliseconds
        case prepareTimeoutMilliseconds, onPrepareTimeout, sagaTimeoutMilliseconds, sweepIntervalMilliseconds
        case checkpointIntervalMilliseconds, retryInitialMilliseconds, retryMaxMilliseconds, inFlightTransfersMax
        case compensationRetriesMax
        case rememberedTransfersMax, drainMilliseconds, tls, participantCallTimeoutMilliseconds, acceptedRecordBytesMax
        case participantCallsInFlightMax, deadlockCheckIntervalMilliseconds, prepareOrder, previousPublicKeys, treeHeadFile,
            treeHeadIntervalMilliseconds, leaseMilliseconds
        case consoleListen, consoleSessionMinutes, watchdogIntervalMilliseconds, watchdogOldestPreparedSeconds
        case watchdogBlockedSessions, watchdogPreparedSlotsPercent, tracingOTLPEndpoint, consoleSecureCookies
        case participantCommandStreams, batchedOrderSignatures
    }

    /// Required keys must be present; every other key falls back to its documented default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if container.contains(.clientTokens) {
            throw ConfigurationError(
                "clientTokens is no longer accepted: name each client under clients, with its token's SHA-256, a tokenFile or a "
                    + "tokenEnvironment, and its permissions (README, \"Clients and permissions\")"
            )
        }
        self.init(
            coordinatorID: try container.decode(String.self, forKey: .coordinatorID),
            listen: try container.decode(String.self, forKey: .listen),
            metricsListen: try container.decodeIfPresent(String.self, forKey: .metricsListen) ?? Self.defaultMetricsListen,
            logDirectory: try container.decode(String.self, forKey: .logDirectory),
            signingKey: try container.decode(String.self, forKey: .signingKey),
            clients: try container.decode([ClientConfiguration].self, forKey: .clients),
            participants: try container.decode([Participant].self, forKey: .participants)
        )
        func optional<Value: Decodable>(_ key: CodingKeys, _ value: inout Value) throws {
            if let decoded = try container.decodeIfPresent(Value.self, forKey: key) { value = decoded }
        }
        try optional(.prepareTimeoutMilliseconds, &prepareTimeoutMilliseconds)
        try optional(.onPrepareTimeout, &onPrepareTimeout)
        try optional(.prepareOrder, &prepareOrder)
        try optional(.sagaTimeoutMilliseconds, &sagaTimeoutMilliseconds)
        try optional(.sweepIntervalMilliseconds, &sweepIntervalMilliseconds)
        try optional(.checkpointIntervalMilliseconds, &checkpointIntervalMilliseconds)
        try optional(.retryInitialMilliseconds, &retryInitialMilliseconds)
        try optional(.retryMaxMilliseconds, &retryMaxMilliseconds)
        try optional(.inFlightTransfersMax, &inFlightTransfersMax)
        try optional(.compensationRetriesMax, &compensationRetriesMax)
        try optional(.rememberedTransfersMax, &rememberedTransfersMax)
        try optional(.drainMilliseconds, &drainMilliseconds)
        try optional(.participantCallTimeoutMilliseconds, &participantCallTimeoutMilliseconds)
        try optional(.acceptedRecordBytesMax, &acceptedRecordBytesMax)
        try optional(.participantCallsInFlightMax, &participantCallsInFlightMax)
        try optional(.participantCommandStreams, &participantCommandStreams)
        try optional(.batchedOrderSignatures, &batchedOrderSignatures)
        try optional(.deadlockCheckIntervalMilliseconds, &deadlockCheckIntervalMilliseconds)
        try optional(.fourEyesResolution, &fourEyesResolution)
        try optional(.allowPlaintext, &allowPlaintext)
        try optional(.previousPublicKeys, &previousPublicKeys)
        treeHeadFile = try container.decodeIfPresent(String.self, forKey: .treeHeadFile)
        try optional(.treeHeadIntervalMilliseconds, &treeHeadIntervalMilliseconds)
        try optional(.leaseMilliseconds, &leaseMilliseconds)
        try optional(.apiConnectionsMax, &apiConnectionsMax)
        try optional(.apiConcurrentCallsPerConnectionMax, &apiConcurrentCallsPerConnectionMax)
        try optional(.apiMessageBytesMax, &apiMessageBytesMax)
        try optional(.apiIdleTimeoutMilliseconds, &apiIdleTimeoutMilliseconds)
        tls = try container.decodeIfPresent(APITLSConfiguration.self, forKey: .tls)
        try optional(.consoleListen, &consoleListen)
        try optional(.consoleSessionMinutes, &consoleSessionMinutes)
        try optional(.watchdogIntervalMilliseconds, &watchdogIntervalMilliseconds)
        try optional(.watchdogOldestPreparedSeconds, &watchdogOldestPreparedSeconds)
        try optional(.watchdogBlockedSessions, &watchdogBlockedSessions)
        try optional(.watchdogPreparedSlotsPercent, &watchdogPreparedSlotsPercent)
        tracingOTLPEndpoint = try container.decodeIfPresent(String.self, forKey: .tracingOTLPEndpoint)
        consoleSecureCookies = try container.decodeIfPresent(Bool.self, forKey: .consoleSecureCookies)
    }

    /// Nil when the console is off.
    var consoleAddress: HostPort? {
        get throws { consoleListen == "off" ? nil : try HostPort(parsing: consoleListen) }
    }

    /// Reads and decodes `path`. A file that holds a secret inline (a participant's `token`) is
    /// refused when group or others can read it, like a key file.
    public static func load(from path: String) throws -> CoordinatorConfiguration {
        let file = try ConfigurationFile(path: path)
        let configuration: CoordinatorConfiguration
        do {
            configuration = try JSONDecoder().decode(CoordinatorConfiguration.self, from: Data(file.bytes))
        } catch let error as ConfigurationError {
            throw ConfigurationError("\(path): \(error)")
        } catch {
            throw ConfigurationError("\(path) is not a valid settled configuration: \(error)")
        }
        if configuration.participants.contains(where: { $0.credential.token != nil }) {
            try file.requireOwnerOnly(because: "it holds a participant's token inline")
        }
        return configuration
    }

    public func validate() throws {
        do {
            try BranchGID.validateCoordinatorID(coordinatorID)
        } catch {
            throw ConfigurationError(error.message)
        }
        _ = try HostPort(parsing: listen)
        _ = try HostPort(parsing: metricsListen)
        _ = try logLocation
        guard (200...600_000).contains(leaseMilliseconds) else { throw ConfigurationError("leaseMilliseconds must be 200 to 600000") }
        guard !participants.isEmpty else { throw ConfigurationError("participants: none configured") }
        try ClientRegistry(clients).validate(participants: Set(participants.map(\.name)))
        try refusePlaintext(listen, tls != nil, allowed: allowPlaintext)
        for participant in participants {
            guard TransferSpec.isValidName(participant.name) else {
                throw ConfigurationError("participant name '\(participant.name)' must match [a-z0-9._-]{1,64}")
            }
            _ = try HostPort(parsing: participant.address)
            // The link carries this coordinator's token and signed orders.
            if participant.tls == nil || participant.tls == .plaintext {
                try refusePlaintext(participant.address, false, allowed: allowPlaintext, what: "participant \(participant.name) at")
            }
            do {
                _ = try participant.credential.secret(for: "participant \(participant.name)")
            } catch {
                throw ConfigurationError("\(error)")
            }
        }
        // TLS files are read when the listeners start; a missing one is named here instead.
        let certificateFiles =
            [tls?.certificateChain, tls?.privateKey, tls?.clientCertificateAuthority].compactMap { $0 }
            + participants.flatMap { $0.tls?.certificateFiles ?? [] }
        for file in certificateFiles where !FileManager.default.isReadableFile(atPath: file) {
            throw ConfigurationError("tls: cannot read \(file)")
        }
        guard Set(participants.map(\.name)).count == participants.count else {
            throw ConfigurationError("participants: names must be unique")
        }
        guard (1...TransferSpec.prepareTimeoutMillisecondsMax).contains(prepareTimeoutMilliseconds) else {
            throw ConfigurationError("prepareTimeoutMilliseconds must be 1 to \(TransferSpec.prepareTimeoutMillisecondsMax)")
        }
        guard (1...600_000).contains(participantCallTimeoutMilliseconds) else {
            throw ConfigurationError("participantCallTimeoutMilliseconds must be 1 to 600000")
        }
        guard (1024...Self.acceptedRecordBytesMaxLimit).contains(acceptedRecordBytesMax) else {
            throw ConfigurationError("acceptedRecordBytesMax must be 1024 to \(Self.acceptedRecordBytesMaxLimit)")
        }
        guard (1...100_000).contains(participantCallsInFlightMax) else {
            throw ConfigurationError("participantCallsInFlightMax must be 1 to 100000")
        }
        guard deadlockCheckIntervalMilliseconds <= 60_000 else {
            throw ConfigurationError("deadlockCheckIntervalMilliseconds must be 0 (off) to 60000")
        }
        guard inFlightTransfersMax >= 1, rememberedTransfersMax >= 1, compensationRetriesMax >= 1 else {
            throw ConfigurationError("inFlightTransfersMax, rememberedTransfersMax and compensationRetriesMax must be at least 1")
        }
        guard apiConnectionsMax >= 1, apiConcurrentCallsPerConnectionMax >= 1, apiIdleTimeoutMilliseconds >= 1000,
            (64 * 1024...64 << 20).contains(apiMessageBytesMax)
        else {
            throw ConfigurationError(
                "apiConnectionsMax and apiConcurrentCallsPerConnectionMax must be at least 1, apiIdleTimeoutMilliseconds at least 1000, "
                    + "apiMessageBytesMax 65536 to 67108864"
            )
        }
        if try consoleAddress != nil {
            // With `tls`, the console serves HTTPS with the API's certificate.
            try refusePlaintext(consoleListen, tls != nil, allowed: allowPlaintext, what: "consoleListen")
        }
        if let endpoint = tracingOTLPEndpoint, !(endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://")) {
            throw ConfigurationError("tracingOTLPEndpoint must be an http:// or https:// URL of an OTLP/gRPC collector")
        }
        guard (1...1440).contains(consoleSessionMinutes), watchdogIntervalMilliseconds >= 100,
            (1...100).contains(watchdogPreparedSlotsPercent)
        else {
            throw ConfigurationError(
                "consoleSessionMinutes must be 1 to 1440, watchdogIntervalMilliseconds at least 100, watchdogPreparedSlotsPercent 1 to 100"
            )
        }
        guard retryInitialMilliseconds >= 1, retryMaxMilliseconds >= retryInitialMilliseconds else {
            throw ConfigurationError("retryInitialMilliseconds must be at least 1 and at most retryMaxMilliseconds")
        }
    }
}

/// Plaintext on a loopback address stays on this machine; anywhere else it carries tokens and
/// transfers in the clear, so it must be asked for.
func refusePlaintext(_ address: String, _ hasTLS: Bool, allowed: Bool, what: String = "listen") throws {
    guard !hasTLS, !allowed else { return }
    guard try HostPort(parsing: address).isLoopback else {
        throw ConfigurationError(
            "\(what) \(address) is not a loopback address and has no tls: configure tls, or set allowPlaintext: true "
                + "(tokens and transfers then cross the network in the clear)"
        )
    }
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The prepare order of transfers that do not choose one.
public enum DefaultPrepareOrder: String, Codable, Sendable {
    case parallel
    case ordered
    case adaptive
}
