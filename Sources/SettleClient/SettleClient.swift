import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SettleCore
import SettleProtocol
import SettleTracing

/// A client for services (and the `settle` CLI) that start and inspect transfers.
///
/// ```swift
/// try await SettleClient.withClient(host: "127.0.0.1", port: 7100, token: token) { settle in
///     let transfer = try await settle.submit(
///         id: "order-42",
///         branches: [.init(participant: "bank-a", action: "debit", payload: #"{"account":"alice","amount":500}"#),
///                    .init(participant: "bank-b", action: "credit", payload: #"{"account":"bob","amount":500}"#)],
///         wait: true)
///     print(transfer.state)  // .committed or .aborted
/// }
/// ```
public struct SettleClient: Sendable {
    public struct Branch: Sendable {
        public var participant: String
        public var action: String
        public var payload: String
        public var compensation: String
        /// Empty: the compensation runs with the action's payload.
        public var compensationPayload: String

        public init(participant: String, action: String, payload: String, compensation: String = "", compensationPayload: String = "") {
            self.participant = participant
            self.action = action
            self.payload = payload
            self.compensation = compensation
            self.compensationPayload = compensationPayload
        }
    }

    private let client: Settle_V1_Coordinator.Client<HTTP2ClientTransport.Posix>
    private let metadata: Metadata

    /// How to reach a coordinator whose API uses TLS (settled's `tls` setting).
    public typealias TLS = ClientTLS

    /// Connects, runs `body`, and closes the connection.
    /// - Parameter tls: nil for a plaintext API; the name settled's certificate must carry is `host`.
    public static func withClient<Result: Sendable>(
        host: String, port: Int, token: String, tls: TLS? = nil, _ body: (SettleClient) async throws -> Result
    ) async throws -> Result {
        try await withGRPCClient(
            transport: .http2NIOPosix(target: connectionTarget(host: host, port: port), transportSecurity: tls?.transportSecurity() ?? .plaintext),
            // The caller's trace (when its process has a tracer) continues through settled.
            interceptors: [ClientTraceContextInterceptor()]
        ) { grpcClient in
            // No token: the client certificate (mutual TLS) is the only credential.
            let metadata: Metadata = token.isEmpty ? [:] : ["authorization": "Bearer \(token)"]
            return try await body(SettleClient(client: .init(wrapping: grpcClient), metadata: metadata))
        }
    }

    /// Submits a transfer (idempotent by `id`). With `wait`, returns once it is final (bounded by
    /// `timeout`); otherwise once it is durably accepted.
    /// - Parameters:
    ///   - sagaFallback: when some branch is not prepared by the prepare deadline, finish as a saga
    ///     (commit what is prepared, re-drive the rest, or compensate) instead of aborting; every
    ///     branch then needs a compensation.
    public func submit(
        id: String, branches: [Branch], prepareTimeout: Duration? = nil, sagaFallback: Bool? = nil,
        sagaTimeout: Duration? = nil, compensationRetriesMax: Int? = nil, prepareOrder: TransferSpec.PrepareOrder? = nil,
        wait: Bool = false, timeout: Duration = .seconds(60)
    ) async throws -> Settle_V1_Transfer {
        var request = Settle_V1_SubmitRequest()
        request.transferID = id
        request.wait = wait
        request.branches = branches.map { branch in
            var message = Settle_V1_BranchRequest()
            message.participant = branch.participant
            message.action = branch.action
            message.payload = Data(branch.payload.utf8)
            message.compensation = branch.compensation
            message.compensationPayload = Data(branch.compensationPayload.utf8)
            return message
        }
        if let prepareTimeout { request.policy.prepareTimeoutMs = Self.milliseconds(prepareTimeout) }
        if let sagaTimeout { request.policy.sagaTimeoutMs = Self.milliseconds(sagaTimeout) }
        if let sagaFallback { request.policy.onPrepareTimeout = sagaFallback ? .sagaFallback : .abort }
        if let prepareOrder { request.policy.prepareOrder = prepareOrder == .ordered ? .ordered : .parallel }
        if let compensationRetriesMax { request.policy.compensationRetriesMax = UInt32(clamping: compensationRetriesMax) }
        var options = CallOptions.defaults
        options.timeout = timeout
        return try await client.submit(request, metadata: metadata, options: options).transfer
    }

    private static func milliseconds(_ duration: Duration) -> UInt32 {
        UInt32(clamping: duration.wholeMilliseconds)
    }

    /// An operator's decision for a stuck transfer, sealed as MANUAL under this client's
    /// authenticated name (or, with four-eyes resolution, as a proposal for another to approve).
    public func resolve(id: String, outcome: Settle_V1_TransferState, reason: String) async throws -> Settle_V1_Transfer {
        try await client.resolve(
            .with {
                $0.transferID = id
                $0.outcome = outcome
                $0.reason = reason
            },
            metadata: metadata
        )
    }

    /// Four-eyes: approves another operator's proposed resolution, the one `transfer` (as `get`
    /// returned it) shows. If that proposal was replaced since, nothing is approved and the call
    /// fails with FAILED_PRECONDITION naming the proposal now waiting.
    public func approve(seen transfer: Settle_V1_Transfer) async throws -> Settle_V1_Transfer {
        try await client.approve(
            .with {
                $0.transferID = transfer.transferID
                $0.seenOutcome = transfer.proposalOutcome
                $0.seenOperator = transfer.proposalOperator
                $0.seenReason = transfer.proposalReason
            },
            metadata: metadata
        )
    }

    /// Four-eyes: withdraws or refuses the proposed resolution waiting for approval.
    public func reject(id: String, reason: String) async throws -> Settle_V1_Transfer {
        try await client.reject(
            .with {
                $0.transferID = id
                $0.reason = reason
            },
            metadata: metadata
        )
    }

    public func get(id: String) async throws -> Settle_V1_Transfer {
        try await client.get(.with { $0.transferID = id }, metadata: metadata)
    }

    public func list(
        states: [Settle_V1_TransferState] = [], submittedFromUnixMilliseconds: Int64 = 0, submittedToUnixMilliseconds: Int64 = 0,
        pageSize: Int = 100, pageToken: String = ""
    ) async throws -> Settle_V1_ListResponse {
        var request = Settle_V1_ListRequest()
        request.states = states
        request.submittedFromUnixMs = submittedFromUnixMilliseconds
        request.submittedToUnixMs = submittedToUnixMilliseconds
        request.pageSize = UInt32(clamping: pageSize)
        request.pageToken = pageToken
        return try await client.list(request, metadata: metadata)
    }
}
