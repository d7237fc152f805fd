import Foundation
import Synchronization

/// The faults of a chaos run, drawn from the seed: every 0.5–3 s one process is killed with
/// SIGKILL (the coordinator about a third of the time, otherwise a random bank) and restarted
/// after up to 1.5 s; a restarted bank is slow in one random operation (100–1500 ms, against a
/// 1000 ms prepare deadline) two times in five. The first fault is always the coordinator, and
/// its restart is armed to die in the middle of a log batch, so every run has a torn log tail to
/// recover from; the second is always a bank that comes back slower than the prepare deadline in
/// its debit or credit, so every run has deadline aborts and saga fallbacks.
final class FaultSchedule: Sendable {
    let deployment: ChaosDeployment
    let generator: SeededGenerator
    /// False with `--failover`, whose own schedule kills and pauses the coordinators: this one
    /// then only kills banks.
    let killsCoordinator: Bool

    struct Tally: Sendable {
        var coordinatorKills = 0
        var coordinatorSelfCrashes = 0
        var bankKills = 0
        var slowBankStarts = 0
    }

    let tally = Mutex(Tally())

    init(deployment: ChaosDeployment, generator: SeededGenerator, killsCoordinator: Bool = true) {
        self.deployment = deployment
        self.generator = generator
        self.killsCoordinator = killsCoordinator
    }

    /// Runs until cancelled.
    func run() async {
        var generator = generator
        var coordinatorKilledBefore = false
        // settled restarted with the mid-batch crash point and not yet dead by it: never killed
        // from outside meanwhile, or the run could end without its torn tail.
        var armedSettledAlive = false
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(Int.random(in: 500...3000, using: &generator)))
            if Task.isCancelled { return }
            // The mid-batch crash point ends settled by itself; bring it back like any other crash.
            if killsCoordinator, !(await deployment.isSettledRunning) {
                if armedSettledAlive { tally.withLock { $0.coordinatorSelfCrashes += 1 } }
                armedSettledAlive = false
                try? await deployment.startSettled(crashAt: nil)
                continue
            }
            let downtime = Duration.milliseconds(Int.random(in: 0...1500, using: &generator))
            let banksKilled = tally.withLock { $0.bankKills }
            if killsCoordinator
                && (!coordinatorKilledBefore
                    || (!armedSettledAlive && banksKilled > 0 && Int.random(in: 0..<3, using: &generator) == 0))
            {
                await deployment.killSettled()
                tally.withLock { $0.coordinatorKills += 1 }
                try? await Task.sleep(for: downtime)
                try? await deployment.startSettled(crashAt: coordinatorKilledBefore ? nil : "mid-batch")
                armedSettledAlive = !coordinatorKilledBefore
                coordinatorKilledBefore = true
            } else {
                let bank = Int.random(in: 0..<ChaosDeployment.bankNames.count, using: &generator)
                await deployment.killBank(bank)
                tally.withLock { $0.bankKills += 1 }
                var faults: [String] = []
                if banksKilled == 0 {
                    // Past the prepare deadline, so saga fallback and deadline aborts happen in every run.
                    let operation = ["debit", "credit"].randomElement(using: &generator)!
                    faults = ["--fault-inject-delay", "\(operation)=\(Int.random(in: 1200...1500, using: &generator))"]
                } else if Int.random(in: 0..<5, using: &generator) < 2 {
                    let operation = ["debit", "credit", "refund", "reverse-credit"].randomElement(using: &generator)!
                    faults = ["--fault-inject-delay", "\(operation)=\(Int.random(in: 100...1500, using: &generator))"]
                }
                if !faults.isEmpty { tally.withLock { $0.slowBankStarts += 1 } }
                try? await Task.sleep(for: downtime)
                await restartBank(bank, faults: faults)
            }
        }
    }

    private func restartBank(_ bank: Int, faults: [String]) async {
        await Polling.retryingStart { try await deployment.startBank(bank, faultArguments: faults) }
    }

    /// After the run: whatever is down comes back, without faults, so recovery can finish.
    func reviveEverything() async throws {
        if !(await deployment.isSettledRunning) { try await deployment.startSettled(crashAt: nil) }
        for bank in ChaosDeployment.bankNames.indices where !(await deployment.isBankRunning(bank)) {
            try await deployment.startBank(bank, faultArguments: [])
        }
    }
}
