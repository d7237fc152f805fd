import Foundation
import SettleCore
import SettleProtocol

/// A client's Submit as the coordinator validates it: the only place protobuf bytes from a client
/// become a `TransferSpec` (fuzzed by `tools/fuzz submit-request`).
extension TransferSpec {
    init(_ request: Settle_V1_SubmitRequest) throws(SpecError) {
        let policy = request.policy
        let onPrepareTimeout: OnPrepareTimeout?
        switch policy.onPrepareTimeout {
        case .unspecified: onPrepareTimeout = nil
        case .abort: onPrepareTimeout = .abort
        case .sagaFallback: onPrepareTimeout = .saga
        case .UNRECOGNIZED(let value): throw SpecError("unknown on_prepare_timeout \(value)")
        }
        let prepareOrder: PrepareOrder?
        switch policy.prepareOrder {
        case .unspecified: prepareOrder = nil
        case .parallel: prepareOrder = .parallel
        case .ordered: prepareOrder = .ordered
        case .UNRECOGNIZED(let value): throw SpecError("unknown prepare_order \(value)")
        }
        self.init(
            id: request.transferID,
            branches: request.branches.map { branch in
                Branch(
                    participant: branch.participant, action: branch.action, payload: branch.payload,
                    compensation: branch.compensation, compensationPayload: branch.compensationPayload
                )
            },
            policy: Policy(
                onPrepareTimeout: onPrepareTimeout,
                prepareTimeoutMilliseconds: policy.prepareTimeoutMs == 0 ? nil : policy.prepareTimeoutMs,
                sagaTimeoutMilliseconds: policy.sagaTimeoutMs == 0 ? nil : policy.sagaTimeoutMs,
                compensationRetriesMax: policy.compensationRetriesMax == 0 ? nil : policy.compensationRetriesMax,
                prepareOrder: prepareOrder
            )
        )
    }
}
