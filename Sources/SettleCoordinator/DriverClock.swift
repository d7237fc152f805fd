/// The driver's time: prepare and saga deadlines, and the backoff between attempts, with the
/// randomness of its jitter. settled runs on the system's monotonic clock; the simulator on a
/// manual one that moves only when it says, so that a seed replays exactly.
protocol DriverClock: Sendable {
    /// Time since this clock's origin.
    var now: Duration { get }
    /// Returns at `deadline` (since the same origin), or throws once the task is cancelled.
    func sleep(until deadline: Duration) async throws
    /// A uniformly random number in `range` (the backoff's jitter).
    func jitter(in range: ClosedRange<Int64>) -> Int64
}

extension DriverClock {
    func sleep(for duration: Duration) async throws {
        try await sleep(until: now + duration)
    }
}

struct SystemDriverClock: DriverClock {
    private let origin = ContinuousClock.now

    var now: Duration { ContinuousClock.now - origin }

    func sleep(until deadline: Duration) async throws {
        try await Task.sleep(until: origin + deadline, clock: .continuous)
    }

    func jitter(in range: ClosedRange<Int64>) -> Int64 { Int64.random(in: range) }
}
