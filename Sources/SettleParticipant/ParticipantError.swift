/// Why a participant operation did not produce an answer. Each code maps to one gRPC status
/// (see protocol/settle/v1/participant.proto).
public struct ParticipantError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidArgument, unknownOperation, conflict, branchPrepared, operationFailed, databaseUnavailable,
                startupRefused, workMismatch, staleEpoch
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A request field breaks its limits; nothing was done.
        public static let invalidArgument = Code(.invalidArgument)
        /// The action or compensation is not registered here.
        public static let unknownOperation = Code(.unknownOperation)
        /// A transient conflict outlasted the retries; nothing was done; retry.
        public static let conflict = Code(.conflict)
        /// The branch is prepared, so the operation cannot run yet.
        public static let branchPrepared = Code(.branchPrepared)
        /// The action or compensation failed with an error that is not a refusal.
        public static let operationFailed = Code(.operationFailed)
        public static let databaseUnavailable = Code(.databaseUnavailable)
        /// The gid already stands for other work (another operation or payload), or for work this
        /// process cannot compare; nothing was done.
        public static let workMismatch = Code(.workMismatch)
        /// A Prepare from a coordinator epoch older than one this participant has seen for that
        /// coordinator id: the sender was deposed by a failover; nothing was done.
        public static let staleEpoch = Code(.staleEpoch)
        /// Start-up checks failed: the message says what to change.
        public static let startupRefused = Code(.startupRefused)

        public var description: String { base.rawValue }
    }

    public let code: Code
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
