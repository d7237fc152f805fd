import GRPCCore
import SettleAuth
import Logging
import Metrics
import SettleCore
import SettleProtocol
import Synchronization
import Tracing

/// A transfer the coordinator must drive: a new one, or one recovery resumes.
struct DriverStart: Sendable {
    let spec: TransferSpec
    let admission: Admission
    let transfer: TransferProtocol
    let firstActions: [TransferProtocol.Action]
    /// Nil for a transfer recovery resumes: it was decided before the restart and prepares, if
    /// at all, only as a re-drive.
    let prepareTimeout: Duration?
    let sagaTimeout: Duration
    /// A resumed transfer's sealed decision, which its phase-two commands are signed over.
    var decisionLSN: UInt64? = nil
    /// Its ACCEPTED record, which its Prepares are signed over (nil in logs that did not keep it).
    var acceptedLSN: UInt64? = nil
    /// The trace its Submit came in with: the transfer's span continues it, and every
    /// participant call carries it on (nil for transfers recovery resumes).
    var traceContext: ServiceContext? = nil
}

/// The client API: Submit (idempotent by transfer id), Get, List.
struct CoordinatorService: Settle_V1_Coordinator.SimpleServiceProtocol {
    let configuration: CoordinatorConfiguration
    let clients: ClientRegistry
    let registry: TransferRegistry
    let transferAdmission: TransferAdmission
    let isDraining: @Sendable () -> Bool
    let metrics: CoordinatorMetrics
    /// The lease's epoch (or 1 for a log in files), in every gid this coordinator admits, so a
    /// participant can tell a deposed coordinator's Prepare from its successor's.
    let admissionEpoch: UInt32
    let operatorActions: OperatorActions
    let contention: ContentionMemory
    let logger: Logger

    private var participantNames: Set<String> { Set(configuration.participants.map(\.name)) }

    static let shuttingDown = RPCError(code: .unavailable, message: "the coordinator is shutting down and accepts no new transfers")

    /// The transfer's own choice, else the configured default; `adaptive` orders the prepares of a
    /// transfer over participants that recently deadlocked with each other.
    private func preparesInOrder(_ spec: TransferSpec) -> Bool {
        switch spec.policy.prepareOrder {
        case .ordered: return true
        case .parallel: return false
        case nil: break
        }
        switch configuration.prepareOrder {
        case .ordered: return true
        case .parallel: return false
        case .adaptive:
            guard contention.isContended(Set(spec.branches.map(\.participant))) else { return false }
            metrics.orderedAfterDeadlock.increment()
            return true
        }
    }

    /// The calling client, refused with PERMISSION_DENIED (and counted) unless `permits` says yes.
    func caller(_ permission: String, permits: (ClientConfiguration) -> String?) throws -> ClientConfiguration {
        let client: ClientConfiguration
        do {
            client = try clients.caller()
        } catch let refusal as PermissionRefusal {
            throw refused(permission, refusal.description)
        }
        if let missing = permits(client) { throw refused(permission, missing) }
        return client
    }

    func refused(_ permission: String, _ message: String) -> RPCError {
        Counter(label: "settle_api_refused_total", dimensions: [("reason", "permission"), ("permission", permission)]).increment()
        logger.notice("call refused: missing permission", metadata: ["permission": "\(permission)", "why": "\(message)"])
        return RPCError(code: .permissionDenied, message: message)
    }

    func submit(request: Settle_V1_SubmitRequest, context: ServerContext) async throws -> Settle_V1_SubmitResponse {
        let spec: TransferSpec
        do {
            spec = try TransferSpec(request)
            try spec.validate(participants: participantNames)
        } catch {
            throw RPCError(code: .invalidArgument, message: error.message)
        }
        let client = try caller("submit") { $0.refusal(toSubmit: spec) }
        let onPrepareTimeout = spec.policy.onPrepareTimeout ?? configuration.onPrepareTimeout
        if onPrepareTimeout == .saga, let index = spec.branches.firstIndex(where: { $0.compensation.isEmpty }) {
            throw RPCError(
                code: .invalidArgument, message: "branch \(index): a saga transfer names a compensation for every branch"
            )
        }
        guard !isDraining() else { throw Self.shuttingDown }
        let submittedAt = WallClock.nowMilliseconds()
        let admission = Admission.random(epoch: admissionEpoch)
        let accepted = CoordinatorRecord.accepted(
            spec, admission: admission, submittedAtMilliseconds: submittedAt, submittedBy: client.name
        )
        // Measured as it will be written: JSON escaping can make a record several times larger
        // than the request's payload bytes.
        let encoded = accepted.entry()
        guard encoded.payload.count <= configuration.acceptedRecordBytesMax else {
            throw RPCError(
                code: .invalidArgument,
                message: "the transfer's ACCEPTED record would be \(encoded.payload.count) bytes; acceptedRecordBytesMax is "
                    + "\(configuration.acceptedRecordBytesMax) (payloads are stored as JSON strings, where a control character "
                    + "takes six bytes)"
            )
        }
        let policy = TransferAdmission.Policy(
            onPrepareTimeout: onPrepareTimeout, ordered: preparesInOrder(spec),
            prepareTimeout: .milliseconds(spec.policy.prepareTimeoutMilliseconds ?? configuration.prepareTimeoutMilliseconds),
            sagaTimeout: .milliseconds(spec.policy.sagaTimeoutMilliseconds ?? configuration.sagaTimeoutMilliseconds)
        )
        switch try await transferAdmission.admit(accepted, encoded: encoded, policy: policy) {
        case .existing(let existing) where existing.submittedBy != client.name,
            .conflict(let existing, _) where existing.submittedBy != client.name:
            // Nothing of another client's transfer is shown; only that the id is taken.
            throw RPCError(code: .alreadyExists, message: "transfer id '\(spec.id)' is taken by another client")
        case .existing:
            break
        case .conflict(_, let difference):
            throw RPCError(code: .alreadyExists, message: difference)
        case .full(let why):
            throw RPCError(code: .resourceExhausted, message: why)
        case .stopped:
            throw Self.shuttingDown
        case .admitted:
            metrics.inFlight.record(registry.inFlightCount)
        }
        if request.wait { await registry.waitUntilFinal(spec.id) }
        guard let entry = registry.entry(spec.id) else {
            throw RPCError(code: .internalError, message: "transfer \(spec.id) was forgotten while being submitted")
        }
        var response = Settle_V1_SubmitResponse()
        response.transfer = entry.message(coordinatorID: configuration.coordinatorID)
        return response
    }

    func get(request: Settle_V1_GetRequest, context: ServerContext) async throws -> Settle_V1_Transfer {
        let client = try caller("read") { $0.read == .none ? "client \($0.name) lacks permission: read" : nil }
        let entry = request.transferID.utf8.count <= Limits.transferIDBytesMax ? registry.entry(request.transferID) : nil
        // Refused alike whether the id exists or not, so a reader of its own transfers cannot
        // learn which other ids are in use.
        if client.read == .own, entry.map(client.mayRead) != true {
            throw refused("read", "client \(client.name) may read only its own transfers, and has none with this id")
        }
        guard let entry else {
            throw RPCError(code: .notFound, message: "no transfer with id '\(request.transferID.prefix(128))' is known here")
        }
        return entry.message(coordinatorID: configuration.coordinatorID)
    }

    func list(request: Settle_V1_ListRequest, context: ServerContext) async throws -> Settle_V1_ListResponse {
        let client = try caller("read") { $0.read == .none ? "client \($0.name) lacks permission: read" : nil }
        guard request.pageSize <= 1000, request.pageToken.utf8.count <= 256, request.states.count <= 16 else {
            throw RPCError(code: .invalidArgument, message: "page_size is at most 1000, page_token at most 256 bytes")
        }
        var statuses = Set<TransferStatus>()
        for state in request.states {
            guard let status = TransferStatus(state) else {
                throw RPCError(code: .invalidArgument, message: "state \(state) is not one this coordinator reports")
            }
            statuses.insert(status)
        }
        let page = registry.list(
            statuses: statuses,
            fromMilliseconds: request.submittedFromUnixMs == 0 ? nil : request.submittedFromUnixMs,
            toMilliseconds: request.submittedToUnixMs == 0 ? nil : request.submittedToUnixMs,
            pageSize: request.pageSize == 0 ? 100 : Int(request.pageSize),
            after: request.pageToken.isEmpty ? nil : request.pageToken,
            submittedBy: client.read == .own ? client.name : nil
        )
        var response = Settle_V1_ListResponse()
        response.transfers = page.entries.map { $0.message(coordinatorID: configuration.coordinatorID) }
        response.nextPageToken = page.nextToken ?? ""
        return response
    }
}
