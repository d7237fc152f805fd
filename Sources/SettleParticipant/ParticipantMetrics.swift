import Metrics
import SettleCore

/// The participant's swift-metrics instruments. Labels follow Prometheus conventions; the
/// application bootstraps the backend (swift-prometheus, for example).
struct ParticipantMetrics: Sendable {
    let participant: String
    let factory: any MetricsFactory
    let prepareDuration: Timer
    let inDoubtCount: Gauge
    let oldestInDoubtAgeSeconds: Gauge
    private let operationCounts: InstrumentCache<Counter>

    init(participant: String, factory: any MetricsFactory) {
        self.participant = participant
        self.factory = factory
        operationCounts = InstrumentCache { Counter(label: $0, dimensions: $1, factory: factory) }
        prepareDuration = Timer(
            label: "settle_participant_prepare_duration", dimensions: [("participant", participant)], factory: factory
        )
        inDoubtCount = Gauge(
            label: "settle_participant_in_doubt_branches", dimensions: [("participant", participant)], factory: factory
        )
        oldestInDoubtAgeSeconds = Gauge(
            label: "settle_participant_in_doubt_oldest_age_seconds", dimensions: [("participant", participant)],
            factory: factory
        )
    }

    /// One count per answered (or failed) operation, by operation and outcome.
    func recordOperation(_ operation: String, outcome: String) {
        operationCounts[
            label: "settle_participant_operations_total",
            dimensions: [("participant", participant), ("operation", operation), ("outcome", outcome)]
        ].increment()
    }

    func recordInDoubt(count: Int, oldestAgeMilliseconds: Int64) {
        inDoubtCount.record(count)
        oldestInDoubtAgeSeconds.record(Double(oldestAgeMilliseconds) / 1000)
    }
}
