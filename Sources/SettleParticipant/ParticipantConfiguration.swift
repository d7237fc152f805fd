import SettleAuth
import SignedLog

/// How a participant behaves. Every wait is bounded, so no request can hold a connection, a
/// lock or a thread forever.
public struct ParticipantConfiguration: Sendable {
    /// The coordinators this participant serves, each with its own token, public keys and gid
    /// prefix. Every RPC must carry one of their tokens as `authorization: Bearer <token>`.
    public var coordinators: [CoordinatorCredential]
    /// Commit, Rollback and Compensate must carry their coordinator's signature over the sealed
    /// decision that ordered them. Turn off only for a migration window, while coordinators that
    /// do not sign yet are still running: a caller holding the token could then order commits.
    public var requireSignedPhaseTwo = true
    /// Serving without TLS on an address that is not loopback is refused unless this is set.
    public var allowPlaintext = false
    /// Largest action or compensation payload accepted, in bytes.
    public var payloadBytesMax = 64 * 1024
    /// How long a barrier-row insert waits on another transaction of the same gid before the
    /// operation re-checks the branch's state. Short: the other transaction may be a prepared one
    /// that only the coordinator will end, and the barrier never waits on those (docs/design.md,
    /// "Barrier table").
    public var barrierLockTimeout: Duration = .milliseconds(100)
    /// How long an action's statements wait for row locks (a hot account held by another
    /// prepared branch waits for its commit, which normally takes a round trip).
    public var actionLockTimeout: Duration = .seconds(10)
    /// Upper bound for any single statement of an action or compensation.
    public var statementTimeout: Duration = .seconds(30)
    /// Retries of an operation that met a transient conflict (lock timeout, serialization
    /// failure, deadlock) before answering ABORTED.
    public var conflictRetriesMax = 25
    /// Connections kept apart for Commit, Rollback and InDoubt. A Prepare may wait on a row
    /// that another prepared branch holds until its Commit; if Commits had to queue behind such
    /// Prepares for the same connections, the participant could starve itself.
    public var phaseTwoConnectionsMax = 4
    /// Off by default. When set, a branch prepared longer than this is rolled back by the
    /// participant itself and recorded as cancelled in the barrier, so that a coordinator lost
    /// for good cannot hold this database's locks forever. The coordinator then meets a
    /// heuristic outcome: its Commit answers heuristic-rollback, a re-drive is refused, and the
    /// transfer is compensated. Choose it far above any prepare deadline and any coordinator
    /// outage you would rather wait out.
    public var heuristicRollbackAfter: Duration?
    /// How often the in-doubt gauges are refreshed (and `heuristicRollbackAfter` applied).
    public var inDoubtRefreshInterval: Duration = .seconds(10)
    /// Concurrent calls per coordinator connection (HTTP/2 streams). Prepares can wait on rows
    /// that only a later Commit releases, so the coordinator sends phase two over a connection
    /// of its own; this bound keeps one connection from queueing without end.
    public var concurrentCallsPerConnectionMax = 1024
    /// Largest gRPC message accepted by the transport (payload limits are checked separately, with
    /// a clear INVALID_ARGUMENT); anything larger is refused before it is read.
    public var messageBytesMax = 1 << 20
    /// Open connections at most (each coordinator keeps two); one more is closed when accepted.
    public var connectionsMax = 64
    /// A connection with no call for this long is closed; the coordinator reconnects on its own.
    public var connectionIdleTimeout: Duration = .seconds(600)

    public init(coordinators: [CoordinatorCredential]) {
        self.coordinators = coordinators
    }
}

/// One coordinator a participant serves.
public struct CoordinatorCredential: Sendable {
    /// Its coordinator id: it may name only gids under `settle:<id>:`.
    public let id: String
    /// SHA-256 of the bearer token it presents.
    public let tokenDigest: [UInt8]
    /// The public halves of the keys that seal its log and sign its phase-two commands; several
    /// while a key is being rotated.
    public let publicKeys: [VerifyingKey]

    public init(id: String, tokenDigest: [UInt8], publicKeys: [VerifyingKey]) {
        self.id = id
        self.tokenDigest = tokenDigest
        self.publicKeys = publicKeys
    }

    /// `token`: the token itself (from wherever the service keeps it); `publicKeyFiles`: PEM files.
    public init(id: String, token: String, publicKeyFiles: [String]) throws {
        self.init(
            id: id, tokenDigest: TokenSource.digest(ofToken: token),
            publicKeys: try publicKeyFiles.map { try VerifyingKey(pemFile: $0) }
        )
    }

    /// The gids this coordinator may name.
    public var gidPrefix: String { "settle:\(id):" }
}
