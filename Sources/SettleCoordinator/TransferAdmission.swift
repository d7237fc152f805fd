import Logging
import SettleCore
import Tracing
import SignedLog

/// Admitting a transfer: its ACCEPTED record sealed through the registry, then its protocol
/// machine built and handed to the drivers. Submit and the simulator share it.
struct TransferAdmission: Sendable {
    let registry: TransferRegistry
    let starts: AsyncStream<DriverStart>.Continuation
    let logger: Logger

    /// What the transfer's policy resolves to once the configuration's defaults fill its gaps.
    struct Policy: Sendable {
        var onPrepareTimeout: TransferSpec.OnPrepareTimeout
        var ordered: Bool
        var prepareTimeout: Duration
        var sagaTimeout: Duration
    }

    /// `accepted` is the transfer's ACCEPTED record and `encoded` its log entry, already measured.
    func admit(_ accepted: CoordinatorRecord, encoded: LogEntry, policy: Policy) async throws -> TransferRegistry.AdmitResult {
        guard case .accepted(let spec, let admission, _, _) = accepted else { preconditionFailure("admit takes an ACCEPTED record") }
        let result = await registry.admit(accepted, encoded: encoded, logger: logger)
        guard case .admitted(let acceptedLSN) = result else { return result }
        var transfer = TransferProtocol(
            branchCount: spec.branches.count, onPrepareTimeout: policy.onPrepareTimeout,
            prepareSequence: policy.ordered ? spec.canonicalPrepareOrder : nil
        )
        let first = try transfer.start()
        starts.yield(
            DriverStart(
                spec: spec, admission: admission, transfer: transfer, firstActions: first, prepareTimeout: policy.prepareTimeout,
                sagaTimeout: policy.sagaTimeout, acceptedLSN: acceptedLSN, traceContext: ServiceContext.current
            )
        )
        return result
    }
}
