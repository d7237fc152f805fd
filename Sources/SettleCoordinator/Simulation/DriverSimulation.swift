import Foundation
import Logging
import SettleCore
import SettleSimulation
import SignedLog
import Synchronization

/// A deterministic simulation of settled's own coordinator code (TigerBeetle's VOPR is the model):
/// the real `TransferDriver`, `TransferRegistry`, `TransferAdmission` and `TransferRecovery`, run on
/// one seeded executor and a manual clock, against in-memory participants with the barrier's rules
/// (`SimulatedParticipants`) and an in-memory log sealed when the seed says. The network between
/// them delays, drops and duplicates requests and answers; participants refuse, answer late, wait
/// for rows other prepared branches hold, are rolled back by hand and fail to compensate; the
/// coordinator crashes between any two steps, losing what was not sealed, and recovers from the
/// log while its dead incarnation's requests still arrive. Clients submit, wait, and submit again
/// after a crash. The same seed always replays the same run.
public struct DriverSimulation {
    public struct Options: Sendable {
        public var transfers = 16
        public var crashesMax = 2
        /// Per step of the simulation.
        public var crashPerMille = 2
        public var dropPercent = 4
        public var duplicatePercent = 5
        public var transientPercent = 4
        public var refusePercent = 10
        public var slowPercent = 10
        public var rolledBackByHandPercent = 3
        public var compensationFailurePercent = 15
        public var sagaPercent = 30
        public var orderedPercent = 30
        public var prepareTimeoutMilliseconds = 200
        public var sagaTimeoutMilliseconds = 400
        public var compensationAttempts = 4
        public var lockTimeoutMilliseconds = 100
        public var rowsPerParticipant = 4
        /// Submissions spread over this much simulated time.
        public var submitWindowMilliseconds = 300
        public var stepsMax = 5_000_000
        public init() {}
    }

    public struct Report: Sendable {
        public let seed: UInt64
        public let violations: [String]
        /// Final status of each transfer, counted ("committed", "stuck", …).
        public let outcomes: [String: Int]
        public let crashes: Int
        public let steps: Int
        /// Every sealed record, payload included, in log order: what a replay must repeat.
        public let trace: [String]
    }

    /// Runs one seed to quiescence (nothing ready, nobody sleeping), sweeps what is left prepared
    /// as settled's sweep would, and checks the invariants.
    public static func run(seed: UInt64, options: Options = Options()) -> Report {
        let world = SimulatedWorld(seed: seed, options: options)
        var random = SeededRandom(seed: seed ^ 0x5EED_0F_5C4ED)
        var crashes = 0
        var steps = 0
        world.startIncarnation(recovering: false)
        while steps < options.stepsMax {
            steps += 1
            if crashes < options.crashesMax, Int.random(in: 0..<1000, using: &random) < options.crashPerMille {
                crashes += 1
                world.crash()
                world.startIncarnation(recovering: true)
                continue
            }
            let waiting = world.log.waitingAppends
            if waiting > 0, world.executor.readyCount == 0 || random.chance(20) {
                world.log.sealNext(Int.random(in: 1...waiting, using: &random))
                continue
            }
            if world.executor.runOne(using: &random) { continue }
            if world.clock.advance() { continue }
            break
        }
        var violations = steps >= options.stepsMax ? ["the run did not settle within \(options.stepsMax) steps"] : []
        world.sweep()
        violations += world.invariants()
        world.stop(using: &random)
        // Record by record, payloads included (a checkpoint's too): a replay must write the same log.
        let trace = world.log.sealedRecords.map { record in
            "\(record.lsn) \(record.type) \(String(decoding: record.payload, as: UTF8.self))"
        }
        return Report(seed: seed, violations: violations, outcomes: world.outcomes(), crashes: crashes, steps: steps, trace: trace)
    }
}
