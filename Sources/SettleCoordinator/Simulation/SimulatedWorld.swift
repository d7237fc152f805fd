import Foundation
import Logging
import SettleCore
import SettleSimulation
import SignedLog
import Synchronization

/// Everything a driver simulation shares across coordinator incarnations: the executor, the clock,
/// the log, the participants' databases, the transfers and what their clients were told.
final class SimulatedWorld: Sendable {
    static let coordinatorID = "sim"

    let options: DriverSimulation.Options
    let executor = SeededExecutor()
    let clock: ManualDriverClock
    let log = MemoryRecordLog(sealsAtOnce: false)
    let specs: [TransferSpec]
    let policies: [TransferAdmission.Policy]
    let submitAt: [Duration]
    /// The live incarnation; requests of an older one are refused before they leave it.
    let epoch = Atomic<Int>(0)

    struct Shared {
        var participants = SimulatedParticipants()
        var random: SeededRandom
        var told: [Int: TransferStatus] = [:]
        /// What the coordinator logged as critical (an event its machine rejected, a recovery
        /// that failed): each is a violation.
        var criticals: [String] = []
        var registry: TransferRegistry?
        var root: Task<Void, Never>?
    }

    let shared: Mutex<Shared>

    init(seed: UInt64, options: DriverSimulation.Options) {
        self.options = options
        clock = ManualDriverClock(seed: seed ^ 0xC10C)
        var random = SeededRandom(seed: seed)
        var specs: [TransferSpec] = []
        var policies: [TransferAdmission.Policy] = []
        var submitAt: [Duration] = []
        var participants = SimulatedParticipants()
        for index in 0..<options.transfers {
            let saga = random.chance(options.sagaPercent)
            let branchCount = Int.random(in: 2...3, using: &random)
            specs.append(
                TransferSpec(
                    id: "t\(index)",
                    branches: (0..<branchCount).map {
                        TransferSpec.Branch(
                            participant: "p\($0)", action: "move", payload: Data(#"{"amount":1}"#.utf8), compensation: saga ? "undo" : ""
                        )
                    }
                )
            )
            policies.append(
                TransferAdmission.Policy(
                    onPrepareTimeout: saga ? .saga : .abort, ordered: random.chance(options.orderedPercent),
                    prepareTimeout: .milliseconds(options.prepareTimeoutMilliseconds),
                    sagaTimeout: .milliseconds(options.sagaTimeoutMilliseconds)
                )
            )
            submitAt.append(.milliseconds(Int.random(in: 0...options.submitWindowMilliseconds, using: &random)))
            for branch in 0..<branchCount {
                participants.behaviours[BranchKey(transfer: index, branch: branch)] = Self.behaviour(options, &random)
            }
        }
        self.specs = specs
        self.policies = policies
        self.submitAt = submitAt
        shared = Mutex(Shared(participants: participants, random: random))
    }

    private static func behaviour(_ options: DriverSimulation.Options, _ random: inout SeededRandom) -> BranchBehaviour {
        var behaviour = BranchBehaviour()
        behaviour.row = Int.random(in: 0..<max(1, options.rowsPerParticipant), using: &random)
        behaviour.refuses = random.chance(options.refusePercent)
        if random.chance(options.slowPercent) {
            behaviour.slowPrepareMilliseconds = Int.random(in: 50...(options.prepareTimeoutMilliseconds * 2), using: &random)
        }
        behaviour.rolledBackByHand = random.chance(options.rolledBackByHandPercent)
        behaviour.refusesOnceRolledBack = behaviour.rolledBackByHand && random.chance(50)
        if random.chance(options.compensationFailurePercent) {
            behaviour.compensationFailures = random.chance(30) ? Int.max : Int.random(in: 1...3, using: &random)
        }
        return behaviour
    }

    func chance(_ percent: Int) -> Bool { shared.withLock { $0.random.chance(percent) } }

    func randomMilliseconds(_ range: ClosedRange<Int>) -> Duration {
        .milliseconds(shared.withLock { Int.random(in: range, using: &$0.random) })
    }

    func isCurrent(_ epoch: Int) -> Bool { self.epoch.load(ordering: .relaxed) == epoch }

    func index(of id: String) -> Int? {
        guard id.first == "t", let index = Int(id.dropFirst()), specs.indices.contains(index) else { return nil }
        return index
    }

    /// A new admission for a submission, from the seed.
    func nextAdmission() -> Admission {
        let nonce = shared.withLock { $0.random.next() } | 1
        return (try? Admission(epoch: 1, nonce: nonce)) ?? Admission.random()
    }

    /// Critical log lines become violations; the rest is dropped.
    func logger(epoch: Int) -> Logger {
        Logger(label: "simulation") { _ in CriticalCollector(world: self, epoch: epoch) }
    }
}

private struct CriticalCollector: LogHandler {
    let world: SimulatedWorld
    let epoch: Int
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .critical

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        guard event.level == .critical else { return }
        let details = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        world.shared.withLock { $0.criticals.append("incarnation \(epoch): \(event.message) \(details)") }
    }
}
