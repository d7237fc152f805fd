import ArgumentParser
import SettleCoordinator
import SettleSimulation

/// Runs the deterministic simulator over many seeds and prints the first that fails, so that
/// `--seed` replays it exactly.
@main
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settle-simulate",
        abstract: "Simulated transfers under reordering, loss, duplication, crashes and participant faults; checks every invariant."
    )

    @Option(help: "How many seeds to run, from --first-seed.")
    var seeds = 1000

    @Option(help: "The first seed.")
    var firstSeed: UInt64 = 1

    @Option(help: "Replay exactly this seed, printing its result.")
    var seed: UInt64?

    @Option(help: "Transfers per seed.")
    var transfers = 24

    @Option(help: "Percent of transfers prepared in order.")
    var orderedPercent = 30

    @Option(help: "With --seed: print every message that concerns this transfer.")
    var trace: Int?

    @Flag(help: "Run settled's own driver, registry and recovery on the seeded executor instead of the protocol-machine model.")
    var driver = false

    func run() throws {
        if driver { return try runDriver() }
        var options = Simulation.Options()
        options.transfers = transfers
        options.orderedPercent = orderedPercent
        if let seed {
            options.traceTransfer = trace
            var simulation = Simulation(seed: seed, options: options)
            let result = simulation.run()
            for line in simulation.trace { print(line) }
            print(result)
            if !result.passed { throw ExitCode.failure }
            return
        }
        let clock = ContinuousClock()
        let started = clock.now
        var steps = 0
        var crashes = 0
        var deadlocks = 0
        var endings: [String: Int] = [:]
        for seed in firstSeed..<(firstSeed + UInt64(max(0, seeds))) {
            var simulation = Simulation(seed: seed, options: options)
            let result = simulation.run()
            steps += result.steps
            crashes += result.crashes
            deadlocks += result.deadlocksBroken
            endings.merge(result.endings, uniquingKeysWith: +)
            if !result.passed {
                print(result)
                print("replay with: tools/simulate --seed \(seed) --transfers \(transfers)")
                throw ExitCode.failure
            }
        }
        let seconds = Double((clock.now - started).components.attoseconds) / 1e18 + Double((clock.now - started).components.seconds)
        let total = seeds * transfers
        print(
            "settle-simulate: \(seeds) seeds, \(total) transfers (\(endings.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))), "
                + "\(steps) steps, \(crashes) coordinator crashes, \(deadlocks) deadlocks broken: every invariant holds "
                + "(\(Int(Double(seeds) / max(seconds, 0.001))) seeds/s, \(Int(Double(total) / max(seconds, 0.001))) transfers/s)"
        )
    }
}

extension SimulateCommand {
    /// `--driver`: the real coordinator code under `DriverSimulation`.
    func runDriver() throws {
        var options = DriverSimulation.Options()
        options.transfers = transfers
        options.orderedPercent = orderedPercent
        let range = seed.map { $0...$0 } ?? firstSeed...(firstSeed + UInt64(max(1, seeds)) - 1)
        let clock = ContinuousClock()
        let started = clock.now
        var steps = 0
        var crashes = 0
        var endings: [String: Int] = [:]
        for seed in range {
            let report = DriverSimulation.run(seed: seed, options: options)
            steps += report.steps
            crashes += report.crashes
            endings.merge(report.outcomes, uniquingKeysWith: +)
            if self.seed != nil { for line in report.trace { print(line) } }
            if !report.violations.isEmpty {
                for violation in report.violations { print("violation: \(violation)") }
                print("replay with: tools/simulate --driver --seed \(seed) --transfers \(transfers)")
                throw ExitCode.failure
            }
        }
        let elapsed = clock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let total = range.count * transfers
        print(
            "settle-simulate --driver: \(range.count) seeds, \(total) transfers "
                + "(\(endings.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))), "
                + "\(steps) steps, \(crashes) coordinator crashes: every invariant holds "
                + "(\(Int(Double(range.count) / max(seconds, 0.001))) seeds/s, \(Int(Double(total) / max(seconds, 0.001))) transfers/s)"
        )
    }
}
