import Foundation
import Synchronization

/// The last five minutes of the coordinator's activity, one bucket per second, for the console's
/// overview charts. Prometheus keeps the long history; this is what an operator sees at a glance
/// without one.
final class ActivityHistory: Sendable {
    /// One second of activity.
    struct Second: Sendable {
        var atMilliseconds: Int64 = 0
        var committed = 0
        var aborted = 0
        var compensated = 0
        var stuck = 0
        var latencies = LatencyBuckets()
        var inFlight = 0
        var seals = 0
        var records = 0

        var finished: Int { committed + aborted + compensated + stuck }
    }

    static let secondsKept = 300

    private struct State {
        var current = Second()
        var past: [Second] = []
        var lastSeal: (number: UInt64, lsn: UInt64)?
    }

    private let state = Mutex(State())

    func finished(_ status: TransferStatus, after latency: Duration?) {
        state.withLock { state in
            switch status {
            case .committed: state.current.committed += 1
            case .aborted: state.current.aborted += 1
            case .compensated: state.current.compensated += 1
            case .stuck: state.current.stuck += 1
            default: break
            }
            if let latency { state.current.latencies.record(latency) }
        }
    }

    /// Closes the current second: called once a second with what is sampled rather than counted.
    func tick(atMilliseconds now: Int64, inFlight: Int, sealNumber: UInt64, lastLSN: UInt64) {
        state.withLock { state in
            var second = state.current
            second.atMilliseconds = now
            second.inFlight = inFlight
            if let last = state.lastSeal {
                second.seals = Int(clamping: sealNumber &- last.number)
                second.records = Int(clamping: lastLSN &- last.lsn)
            }
            state.lastSeal = (sealNumber, lastLSN)
            state.past.append(second)
            if state.past.count > Self.secondsKept { state.past.removeFirst(state.past.count - Self.secondsKept) }
            state.current = Second()
        }
    }

    /// Oldest first.
    var seconds: [Second] { state.withLock { $0.past } }
}

/// Transfer latencies in exponential buckets (each 25% wider than the one before, from 100 µs to
/// about two minutes), enough for a p50 and a p99 within a bucket's width.
struct LatencyBuckets: Sendable {
    private(set) var counts = [Int](repeating: 0, count: Self.bucketCount)
    private(set) var total = 0

    static let bucketCount = 64
    static let smallestMicroseconds = 100.0
    static let growth = 1.25

    mutating func record(_ latency: Duration) {
        let microseconds = max(1, latency.components.seconds * 1_000_000 + latency.components.attoseconds / 1_000_000_000_000)
        let index = Int((log(Double(microseconds) / Self.smallestMicroseconds) / log(Self.growth)).rounded(.up))
        counts[min(max(index, 0), Self.bucketCount - 1)] += 1
        total += 1
    }

    mutating func add(_ other: LatencyBuckets) {
        for index in counts.indices { counts[index] += other.counts[index] }
        total += other.total
    }

    /// The upper bound of the bucket holding the `fraction` quantile, in milliseconds; nil when empty.
    func quantileMilliseconds(_ fraction: Double) -> Double? {
        guard total > 0 else { return nil }
        let rank = max(1, Int((Double(total) * fraction).rounded(.up)))
        var seen = 0
        for (index, count) in counts.enumerated() {
            seen += count
            if seen >= rank { return Self.smallestMicroseconds * pow(Self.growth, Double(index)) / 1000 }
        }
        return nil
    }
}
