/// SplitMix64: a small, fast generator whose whole sequence follows from one printed seed, so a
/// failing chaos run's transfers and fault schedule can be replayed.
struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// An independent stream for another purpose (the workload and the fault schedule each get
    /// one), so changing how many numbers one draws does not shift the other.
    func derived(_ purpose: UInt64) -> SeededGenerator {
        var copy = self
        return SeededGenerator(seed: copy.next() ^ (purpose &* 0xD6E8_FEB8_6659_FD93))
    }
}
