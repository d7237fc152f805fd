#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

enum Timestamp {
    /// UTC ISO 8601 with nanoseconds, from the log's integer time, without a floating-point step.
    static func iso8601(nanoseconds: Int64) -> String {
        var seconds = time_t(nanoseconds.floorDivided(by: 1_000_000_000))
        let fraction = nanoseconds - Int64(seconds) * 1_000_000_000
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let nanos = String(fraction)
        let paddedNanos = String(repeating: "0", count: 9 - nanos.count) + nanos
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))"
            + "T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(paddedNanos)Z"
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor < 0) ? quotient - 1 : quotient
    }
}
