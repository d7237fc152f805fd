import SettleCore
import SettleSimulation
import Testing

/// The deterministic simulator over a fixed set of seeds: thousands of transfers under
/// reordering, loss, duplicated requests, late answers, refusals, hand rollbacks, failing
/// compensations, prepares waiting for rows (and deadlocks the detector breaks) and coordinator
/// crashes, each run checked against every invariant.
@Suite("deterministic simulation")
struct SimulationTests {
    static let seeds: [UInt64] = Array(1...400)

    @Test func everyInvariantHoldsOverTheFixedSeeds() {
        var failures: [String] = []
        var crashes = 0
        var deadlocks = 0
        for seed in Self.seeds {
            var simulation = Simulation(seed: seed)
            let result = simulation.run()
            crashes += result.crashes
            deadlocks += result.deadlocksBroken
            if !result.passed { failures.append("\(result)") }
        }
        #expect(failures.isEmpty, "\(failures.prefix(3).joined(separator: "\n"))")
        #expect(crashes > Self.seeds.count / 4, "the seeds crash the coordinator often enough to test recovery (\(crashes))")
        #expect(deadlocks > 10, "the seeds form cycles of row waits for the detector to break (\(deadlocks))")
    }

    /// Every seed replays exactly: the same steps, crashes, deadlocks and endings (seeds with
    /// deadlocks among them, where a dictionary's order once leaked into the schedule).
    @Test func aSeedReplaysExactly() {
        var deadlocks = 0
        for seed in UInt64(1)...40 {
            var first = Simulation(seed: seed)
            var second = Simulation(seed: seed)
            let (a, b) = (first.run(), second.run())
            deadlocks += a.deadlocksBroken
            #expect(
                a.steps == b.steps && a.crashes == b.crashes && a.deadlocksBroken == b.deadlocksBroken && a.endings == b.endings
                    && a.violations == b.violations,
                "seed \(seed): \(a) / \(b)"
            )
        }
        #expect(deadlocks > 0, "the replayed seeds include deadlocks")
    }
}
