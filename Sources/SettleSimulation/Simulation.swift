import SettleCore

/// A deterministic simulation of one coordinator and its participants (TigerBeetle's VOPR is the
/// model). Transfers are driven by the very protocol machine `settled` runs (`TransferProtocol`),
/// against in-memory participants with the barrier's rules and an in-memory log whose records
/// are sealed later, on a manual clock. A seeded scheduler delays, reorders, duplicates and drops
/// messages, makes branches refuse, answer late, be rolled back by hand or fail to compensate,
/// makes prepares wait for rows other prepared branches hold (a detector, as settled's, breaking
/// the cycles by `WaitForGraph`), and crashes the coordinator at any step: what was not sealed is lost, messages already on
/// their way to participants still arrive, and the coordinator recovers from the log by the
/// rules `settled` follows. The same seed always replays the same run.
public struct Simulation {
    public struct Options: Sendable {
        public var transfers = 24
        public var crashesMax = 3
        public var dropPercent = 5
        public var duplicatePercent = 5
        /// Per delivered message.
        public var crashPerMille = 4
        public var prepareTimeoutMilliseconds = 200
        public var sagaTimeoutMilliseconds = 400
        public var compensationAttempts = 4
        /// How long a prepare waits for a row before its participant answers a transient failure
        /// (the participant's actionLockTimeout).
        public var lockTimeoutMilliseconds = 300
        /// How often the coordinator looks for deadlocks while a prepare waits (0: never).
        public var deadlockCheckMilliseconds = 100
        /// Rows per participant the branches' actions choose from: fewer rows, more contention.
        public var rowsPerParticipant = 4
        /// Share of transfers prepared in order rather than all at once, in percent.
        public var orderedPercent = 30
        /// Record every message that concerns this transfer (for replaying a failing seed).
        public var traceTransfer: Int?
        public init() {}
    }

    enum Request: Equatable {
        case prepare(deadline: Int?)
        case commit
        case rollback
        case compensate(attempt: Int)
    }

    enum Message {
        /// A request of the coordinator incarnation `epoch`: it reaches the participant even if
        /// that incarnation has crashed since, but its answer then goes nowhere.
        case request(BranchKey, Request, epoch: Int)
        /// An answer, timer or seal for the coordinator incarnation `epoch`.
        case event(transfer: Int, TransferProtocol.Event, epoch: Int)
        case seal(recordIndex: Int)
        case rollBackByHand(BranchKey)
        case submit(transfer: Int)
        /// A waiting prepare's lock timeout.
        case lockTimeout(BranchKey)
        /// The deadlock detector of coordinator incarnation `epoch` looks.
        case detect(epoch: Int)
    }

    /// A prepare waiting for a row.
    struct Waiter {
        let key: BranchKey
        let request: Request
        let epoch: Int
    }

    struct Scheduled {
        let time: Int
        let sequence: Int
        let message: Message
    }

    struct Transfer {
        let branchCount: Int
        let onPrepareTimeout: TransferSpec.OnPrepareTimeout
        let ordered: Bool
        /// Nil until submitted, and again while the coordinator is down.
        var machine: TransferProtocol?
        /// What its client was told, once final (a two-phase END appended, any other END or STUCK sealed).
        var told: TransferOutcome?
        var toldStuck = false
        /// The driver ran `finished` or `stuck`: it takes no more events.
        var done = false
        var prepareDeadline: Int?
        /// When its saga gives up: sealed with SAGA, and read back from the log after a crash.
        var sagaDeadline: Int?
        /// Events the machine rejected: each is a gap in the protocol.
        var rejected: [String] = []
    }

    public let seed: UInt64
    let options: Options
    var random: SeededRandom
    var now = 0
    var sequence = 0
    var queue: [Scheduled] = []
    var epoch = 0
    var crashes = 0
    var log = SimulatedLog()
    var participants = SimulatedParticipants()
    var transfers: [Transfer] = []
    var waiting: [RowKey: [Waiter]] = [:]
    var detecting = false
    var submittedAt: [Int: Int] = [:]
    var deadlocksBroken = 0
    public private(set) var trace: [String] = []
    public private(set) var delivered = 0

    public init(seed: UInt64, options: Options = Options()) {
        self.seed = seed
        self.options = options
        random = SeededRandom(seed: seed)
        for index in 0..<options.transfers { addTransfer(index) }
    }

    private mutating func addTransfer(_ index: Int) {
        let branchCount = Int.random(in: 1...3, using: &random)
        transfers.append(
            Transfer(
                branchCount: branchCount, onPrepareTimeout: random.chance(40) ? .saga : .abort, ordered: random.chance(options.orderedPercent),
                machine: nil
            )
        )
        for branch in 0..<branchCount {
            var behaviour = BranchBehaviour()
            behaviour.row = Int.random(in: 0..<options.rowsPerParticipant, using: &random)
            behaviour.refuses = random.chance(5)
            behaviour.slowPrepareMilliseconds = random.chance(15) ? Int.random(in: 100...700, using: &random) : 0
            behaviour.rolledBackByHand = random.chance(5)
            behaviour.refusesOnceRolledBack = behaviour.rolledBackByHand && random.chance(50)
            if random.chance(12) { behaviour.compensationFailures = random.chance(30) ? Int.max : Int.random(in: 1...3, using: &random) }
            participants.behaviours[BranchKey(transfer: index, branch: branch)] = behaviour
        }
        schedule(.submit(transfer: index), after: Int.random(in: 0...300, using: &random))
    }

    /// Runs until nothing is left to deliver (or `stepsMax`), then checks every invariant.
    public mutating func run(stepsMax: Int = 200_000) -> SimulationResult {
        while !queue.isEmpty, delivered < stepsMax {
            let next = queue.removeFirst()
            now = next.time
            delivered += 1
            if let traced = options.traceTransfer, concerns(next.message, traced) { trace.append("\(now) ms: \(next.message)") }
            deliver(next.message)
            if crashes < options.crashesMax, Int.random(in: 0..<1000, using: &random) < options.crashPerMille {
                crashAndRecover()
            }
        }
        sweep()
        var endings: [String: Int] = [:]
        for index in transfers.indices {
            let stuck = log.sealedEntries(of: index).contains { if case .stuck = $0 { true } else { false } }
            endings[finalOutcome(index).map { "\($0)" } ?? (stuck ? "stuck" : "unfinished"), default: 0] += 1
        }
        return SimulationResult(
            seed: seed, transfers: transfers.count, steps: delivered, crashes: crashes, deadlocksBroken: deadlocksBroken, endings: endings,
            violations: invariants()
        )
    }

    // MARK: Scheduling

    mutating func schedule(_ message: Message, after delay: Int) {
        sequence += 1
        let item = Scheduled(time: now + delay, sequence: sequence, message: message)
        let index = queue.firstIndex { ($0.time, $0.sequence) > (item.time, item.sequence) } ?? queue.endIndex
        queue.insert(item, at: index)
    }

    /// A network delay: usually short, sometimes long enough to reorder.
    mutating func latency() -> Int { random.chance(10) ? Int.random(in: 20...150, using: &random) : Int.random(in: 1...10, using: &random) }

    private func concerns(_ message: Message, _ transfer: Int) -> Bool {
        switch message {
        case .request(let key, _, _), .rollBackByHand(let key), .lockTimeout(let key): key.transfer == transfer
        case .event(let target, _, _), .submit(let target): target == transfer
        case .seal(let index): log.records.indices.contains(index) && log.records[index].transfer == transfer
        case .detect: true
        }
    }

    /// Capped exponential backoff, as the driver's retry policy.
    mutating func backoff(_ attempt: Int) -> Int { Int.random(in: 5...min(200, 10 << min(attempt, 5)), using: &random) }
}

public struct SimulationResult: Sendable, CustomStringConvertible {
    public let seed: UInt64
    public let transfers: Int
    public let steps: Int
    public let crashes: Int
    /// Transfers the detector aborted to break a cycle of waits.
    public let deadlocksBroken: Int
    /// How many transfers ended each way: committed, aborted, compensated, stuck.
    public let endings: [String: Int]
    public let violations: [String]
    public var passed: Bool { violations.isEmpty }

    public var description: String {
        "seed \(seed): \(transfers) transfers (\(endings.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))), "
            + "\(steps) steps, \(crashes) crashes, \(deadlocksBroken) deadlocks broken: "
            + (passed ? "every invariant holds" : "\(violations.count) violations\n  " + violations.joined(separator: "\n  "))
    }
}
