/// A duration in seconds, for the benchmarks' reports (every command of settle-bench uses this one).
func seconds(_ duration: Duration) -> Double {
    let (wholeSeconds, attoseconds) = duration.components
    return Double(wholeSeconds) + Double(attoseconds) / 1e18
}
