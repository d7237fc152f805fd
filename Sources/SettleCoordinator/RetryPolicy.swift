/// Capped exponential backoff with equal jitter (a random delay between half the cap and the
/// cap), for phase-two commands that must eventually reach every branch.
struct RetryPolicy: Sendable {
    let initial: Duration
    let maximum: Duration

    func delay(afterAttempt attempt: Int, jitter: (ClosedRange<Int64>) -> Int64 = { Int64.random(in: $0) }) -> Duration {
        let cap = min(maximum, initial * (1 << min(attempt, 20)))
        let (seconds, attoseconds) = cap.components
        let capNanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        return .nanoseconds(jitter((capNanoseconds / 2)...max(capNanoseconds / 2, capNanoseconds)))
    }
}
