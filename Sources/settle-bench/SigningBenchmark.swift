import ArgumentParser
import Foundation
import SettleAuth
import SignedLog

/// What signed orders cost in CPU: one signature per command at the coordinator, one
/// verification at the participant (a two-branch transfer that commits sends two Prepares and two
/// Commits, each signed).
struct SigningBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signing",
        abstract: "Microseconds of CPU per phase-two order signed (settled) and verified (participant)."
    )

    @Option(help: "Orders per measurement.")
    var count = 20_000

    func run() throws {
        let key = try SigningKey.generate()
        let keys = [key.verifyingKey]
        let gids = (0..<count).map { "settle:bench:1:\(String(format: "%016x", $0)):transfer-\($0):0" }
        let orders = gids.map { SignedOrder(command: .commit, participant: "bank-b", gid: $0, decisionLSN: 1_000_000) }
        let clock = ContinuousClock()
        var signatures: [[UInt8]] = []
        signatures.reserveCapacity(count)
        let signing = try clock.measure { for order in orders { signatures.append(try order.signature(with: key)) } }
        var refused = 0
        let verifying = clock.measure {
            for (order, signature) in zip(orders, signatures) where order.refusal(of: signature, keys: keys) != nil { refused += 1 }
        }
        guard refused == 0 else { throw ValidationError("\(refused) good signatures were refused") }
        func microseconds(_ duration: Duration) -> String { String(format: "%.1f", Double(duration.wholeMicroseconds) / Double(count)) }
        print("| per order | µs |")
        print("| --- | ---: |")
        print("| sign (settled) | \(microseconds(signing)) |")
        print("| verify (participant) | \(microseconds(verifying)) |")
        print("| two-branch transfer that commits: 4 signed + 4 verified | \(microseconds((signing + verifying) * 4)) |")
    }
}

extension Duration {
    var wholeMicroseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }
}
