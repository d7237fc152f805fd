extension Duration {
    /// Whole milliseconds, rounded down: what SQL settings, protocol fields and ages carry.
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
