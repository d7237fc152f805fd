import Foundation
import PostgresClient
import SettleCore
import Synchronization

/// The network's faults of `tools/chaos --network`, drawn from the seed, one at a time beside
/// the process faults of `FaultSchedule`: every 1–4 s one of them lasts 1–5 s, then heals. The
/// kinds come in seeded rounds that each hold every kind once, so even a short storm has them all.
///
/// - a bank partitioned from settled both ways, or one way (settled's requests arrive, the
///   answers are lost), by drop rules in the bank's namespace;
/// - 20 % of the packets between settled and a bank dropped at random (`numgen random`);
/// - 200 ± 100 ms added to everything between settled and a bank, by its delaying proxy;
/// - the storm's own client cut off from settled while its transfers are in flight.
final class NetworkFaultSchedule: Sendable {
    enum Fault: String, CaseIterable, Sendable {
        case partition = "bank partitioned from settled"
        case oneWay = "bank's answers to settled lost (one-way partition)"
        case loss = "20% packet loss between settled and a bank"
        case latency = "200 ± 100 ms latency between settled and a bank"
        case clientPartition = "client partitioned from settled"
    }

    struct Tally: Sendable {
        var counts: [Fault: Int] = [:]
        /// Injections whose nft rule or delay file could not be set: the storm fails on any.
        var failedInjections: [String] = []
        /// The longest any branch stayed prepared (in doubt) at a participant, overall and while
        /// a bank was partitioned from settled.
        var longestInDoubt: Duration = .zero
        var longestInDoubtDuringPartitions: Duration = .zero
    }

    let deployment: ChaosDeployment
    let generator: SeededGenerator
    let tally = Mutex(Tally())
    private let active = Mutex<Fault?>(nil)

    init(deployment: ChaosDeployment, generator: SeededGenerator) {
        self.deployment = deployment
        self.generator = generator
    }

    /// Runs until cancelled, and heals whatever is in force when it stops.
    func run() async {
        var generator = generator
        var round: [Fault] = []
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(Int.random(in: 1000...4000, using: &generator)))
            if Task.isCancelled { break }
            if round.isEmpty { round = Fault.allCases.shuffled(using: &generator) }
            let fault = round.removeLast()
            let bank = Int.random(in: 0..<ChaosDeployment.bankNames.count, using: &generator)
            await inject(fault, bank: bank)
            try? await Task.sleep(for: .milliseconds(Int.random(in: 1000...5000, using: &generator)))
            await heal(fault, bank: bank)
        }
        for bank in ChaosDeployment.bankNames.indices {
            for fault in Fault.allCases { await heal(fault, bank: bank) }
        }
    }

    /// Returns once every kind of fault has been injected (a round holds each once, so within the
    /// first round's at most 45 s), or after two minutes: an injection that fails is not counted,
    /// and the coverage check then reports it rather than the storm hanging.
    func everyKindInjected() async {
        await Polling.until(atMost: .seconds(120)) {
            tally.withLock { tally in Fault.allCases.allSatisfy { tally.counts[$0, default: 0] > 0 } }
        }
    }

    private func inject(_ fault: Fault, bank: Int) async {
        let network = deployment.network
        let coordinator = network.coordinatorAddress
        let bankNamespace = network.bankNamespaces[bank]
        var applied: [Bool] = []
        switch fault {
        case .partition:
            applied.append(await nft(in: bankNamespace, "add rule inet chaos input ip saddr \(coordinator) drop"))
            applied.append(await nft(in: bankNamespace, "add rule inet chaos output ip daddr \(coordinator) drop"))
        case .oneWay:
            applied.append(await nft(in: bankNamespace, "add rule inet chaos output ip daddr \(coordinator) drop"))
        case .loss:
            applied.append(await nft(in: bankNamespace, "add rule inet chaos input ip saddr \(coordinator) numgen random mod 100 < 20 drop"))
            applied.append(await nft(in: bankNamespace, "add rule inet chaos output ip daddr \(coordinator) numgen random mod 100 < 20 drop"))
        case .latency:
            applied.append(FileManager.default.createFile(atPath: deployment.delayControlFile(bank), contents: Data("200 100\n".utf8)))
        case .clientPartition:
            applied.append(await nft(in: network.coordinatorNamespace, "add rule inet chaos input ip saddr \(network.clientAddress) drop"))
            applied.append(await nft(in: network.coordinatorNamespace, "add rule inet chaos output ip daddr \(network.clientAddress) drop"))
        }
        active.withLock { $0 = fault }
        tally.withLock { tally in
            if applied.allSatisfy({ $0 }) {
                tally.counts[fault, default: 0] += 1
            } else {
                tally.failedInjections.append("\(fault.rawValue) (\(ChaosDeployment.bankNames[bank]))")
            }
        }
    }

    private func heal(_ fault: Fault, bank: Int) async {
        active.withLock { $0 = nil }
        let network = deployment.network
        switch fault {
        case .partition, .oneWay, .loss:
            await nft(in: network.bankNamespaces[bank], "flush chain inet chaos input")
            await nft(in: network.bankNamespaces[bank], "flush chain inet chaos output")
        case .latency:
            try? FileManager.default.removeItem(atPath: deployment.delayControlFile(bank))
        case .clientPartition:
            await nft(in: network.coordinatorNamespace, "flush chain inet chaos input")
            await nft(in: network.coordinatorNamespace, "flush chain inet chaos output")
        }
    }

    /// Whether the rule took effect.
    @discardableResult
    private func nft(in namespace: String?, _ rule: String) async -> Bool {
        guard let namespace else { return false }
        let result = try? await ProcessOutput.run("/usr/sbin/ip", ["netns", "exec", namespace, "/usr/sbin/nft", rule])
        if result?.status != 0 { say("  network fault: nft \(rule) in \(namespace) failed: \(result?.errorOutput ?? "")") }
        return result?.status == 0
    }

    /// Samples every 250 ms how long the oldest branch under settled's prefix has been prepared.
    func sampleInDoubt() async {
        let query = """
            SELECT coalesce((extract(epoch FROM max(now() - prepared)) * 1000)::bigint, 0) AS oldest
            FROM pg_prepared_xacts WHERE starts_with(gid, $1)
            """
        guard let prefix = try? BranchGID.prefix(coordinatorID: ChaosDeployment.coordinatorID) else { return }
        while !Task.isCancelled {
            var oldest: Int64 = 0
            for pool in deployment.pools {
                let rows = try? await pool.query(query, [prefix])
                if let row = rows?.first, let milliseconds = try? row.decode(Int64.self, column: "oldest") {
                    oldest = max(oldest, milliseconds)
                }
            }
            let age = Duration.milliseconds(oldest)
            let partitioned = active.withLock { $0 == .partition || $0 == .oneWay }
            tally.withLock { tally in
                tally.longestInDoubt = max(tally.longestInDoubt, age)
                if partitioned { tally.longestInDoubtDuringPartitions = max(tally.longestInDoubtDuringPartitions, age) }
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }
}
