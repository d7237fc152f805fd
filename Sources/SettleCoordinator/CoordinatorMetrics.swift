import Metrics
import SettleCore

/// The coordinator's swift-metrics instruments (exported by settled as Prometheus text).
struct CoordinatorMetrics: Sendable {
    let inFlight = Gauge(label: "settle_transfers_in_flight")
    let prepareDuration = Timer(label: "settle_prepare_phase_duration")
    let commitDuration = Timer(label: "settle_commit_phase_duration")
    let transferDuration = Timer(label: "settle_transfer_duration")
    let sealDuration = Timer(label: "settle_log_seal_duration")
    /// Transfers the adaptive prepare order prepared in order, after a deadlock among their participants.
    let orderedAfterDeadlock = Counter(label: "settle_transfers_ordered_after_deadlock_total")
    /// The last minutes, second by second, for the console's charts.
    let history = ActivityHistory()
    private let counters = InstrumentCache { Counter(label: $0, dimensions: $1) }
    private let timers = InstrumentCache { Timer(label: $0, dimensions: $1) }
    private let gauges = InstrumentCache { Gauge(label: $0, dimensions: $1) }

    /// How long a branch stayed prepared, holding its rows at `participant`: from its PREPARED
    /// answer to the answer of its Commit or Rollback, as settled saw them (so a little longer
    /// than PREPARE TRANSACTION to COMMIT PREPARED at the database).
    func branchHeld(at participant: String, for duration: Duration) {
        timers[label: "settle_branch_prepared_duration", dimensions: [("participant", participant)]].record(duration: duration)
    }

    func finished(_ status: TransferStatus) {
        counters[label: "settle_transfers_total", dimensions: [("outcome", status.rawValue)]].increment()
    }

    /// By how the transfer finished: 2pc, saga-committed, compensated, heuristic or manual.
    func finished(path: String) {
        counters[label: "settle_transfers_by_path_total", dimensions: [("path", path)]].increment()
    }

    /// An answer a transfer's machine could not take, dropped instead of stopping settled.
    func rejectedEvent() {
        counters[label: "settle_transfer_events_rejected_total"].increment()
    }

    func retried(_ operation: String, participant: String) {
        counters[label: "settle_participant_retries_total", dimensions: [("operation", operation), ("participant", participant)]]
            .increment()
    }

    func reachable(_ participant: String, _ isReachable: Bool) {
        gauges[label: "settle_participant_reachable", dimensions: [("participant", participant)]].record(isReachable ? 1 : 0)
    }
}
