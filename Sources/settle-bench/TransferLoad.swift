import Foundation
import Synchronization

/// Runs `transfer` from `concurrency` workers for a warm-up and then a measured interval, and
/// reports transfers per second and latency percentiles of the measured interval. Every system
/// in `tools/bench` is measured by this same loop, so the ratios compare the systems, not the
/// loops.
struct TransferLoad {
    let system: String
    let concurrency: Int
    let warmUp: Duration
    let measured: Duration

    struct Result: Codable {
        let system: String
        let concurrency: Int
        let transfers: Int
        let seconds: Double
        let transfersPerSecond: Double
        let p50Milliseconds: Double
        let p99Milliseconds: Double
        let errors: Int
        /// Every transfer finished, warm-up included: what the processes' CPU time is divided by.
        let transfersIncludingWarmUp: Int
        /// This process's own CPU time (user + system) per transfer.
        let clientCPUMillisecondsPerTransfer: Double
        /// The floor's: how long the credited bank's branch stayed prepared, on average
        /// (PREPARE TRANSACTION done to COMMIT PREPARED done).
        var heldMilliseconds: Double?
    }

    /// - Parameter transfer: one whole transfer by worker `worker`, its `sequence`-th; throws on failure.
    func run(_ transfer: @escaping @Sendable (_ worker: Int, _ sequence: Int) async throws -> Void) async -> Result {
        let clock = ContinuousClock()
        let start = clock.now
        let measureFrom = start + warmUp
        let stopAt = measureFrom + measured
        let recorded = Recorded()
        let cpuBefore = Self.processCPUMilliseconds()
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var sequence = 0
                    var latencies: [Duration] = []
                    var errors = 0
                    var all = 0
                    while clock.now < stopAt {
                        let began = clock.now
                        var failed = false
                        do { try await transfer(worker, sequence) } catch { failed = true }
                        let ended = clock.now
                        sequence += 1
                        if !failed { all += 1 }
                        // Count only transfers that both began and ended inside the interval.
                        guard began >= measureFrom, ended <= stopAt else { continue }
                        if failed { errors += 1 } else { latencies.append(ended - began) }
                    }
                    recorded.add(latencies, errors: errors, all: all)
                }
            }
        }
        let cpu = Self.processCPUMilliseconds() - cpuBefore
        let (latencies, errors, all) = recorded.take()
        let sorted = latencies.sorted()
        func percentile(_ fraction: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let index = min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)
            return Self.milliseconds(sorted[max(0, index)])
        }
        let seconds = Self.milliseconds(measured) / 1000
        return Result(
            system: system, concurrency: concurrency, transfers: sorted.count, seconds: seconds,
            transfersPerSecond: Double(sorted.count) / seconds, p50Milliseconds: percentile(0.50),
            p99Milliseconds: percentile(0.99), errors: errors, transfersIncludingWarmUp: all,
            clientCPUMillisecondsPerTransfer: all == 0 ? 0 : cpu / Double(all)
        )
    }

    private static func processCPUMilliseconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1000
    }

    private static func milliseconds(_ duration: Duration) -> Double {
        seconds(duration) * 1000
    }

    /// Prints the result as one JSON line, which tools/bench collects.
    static func emit(_ result: Result) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        print(String(decoding: try encoder.encode(result), as: UTF8.self))
    }
}

private final class Recorded: Sendable {
    private let state = Mutex<([Duration], Int, Int)>(([], 0, 0))

    func add(_ latencies: [Duration], errors: Int, all: Int) {
        state.withLock {
            $0.0 += latencies
            $0.1 += errors
            $0.2 += all
        }
    }

    func take() -> ([Duration], Int, Int) { state.withLock { $0 } }
}
