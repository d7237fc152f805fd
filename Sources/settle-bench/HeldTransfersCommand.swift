import ArgumentParser
import Foundation
import SettleClient
import SettleCore
import Synchronization

/// Many transfers submitted without waiting, so they can be held in flight (tools/bench freezes
/// the banks first) and later awaited: the memory and recovery cells. Transfer i is
/// `<prefix>-<i>`, debits payer a<i mod 1024> and credits each other bank's pooled merchant, so
/// once the banks run again the transfers queue behind no row but their own payer's, and can form
/// no cycle between banks.
struct HeldTransferOptions: ParsableArguments {
    @Option(help: "settled's client API, host:port.")
    var coordinator: String

    @Option(help: "Client bearer token (default: $SETTLE_TOKEN).")
    var token: String?

    @Option(help: "Transfer ids are <prefix>-0 … <prefix>-(transfers-1).")
    var prefix: String

    @Option(help: "How many transfers.")
    var transfers = 10_000

    @Option(help: "Calls at once.")
    var concurrency = 64

    @Option(help: "Participant names, comma-separated: the debit's, then each credit's.")
    var participants = "bank-a,bank-b"

    /// Long enough that a transfer whose banks are frozen stays undecided for the whole cell.
    static let prepareTimeout = Duration.seconds(600)

    /// Runs `call` for every transfer index, `concurrency` at a time, and throws the first failure.
    func forEachTransfer(_ call: @escaping @Sendable (SettleClient, Int, [SettleClient.Branch]) async throws -> Void) async throws {
        guard let address = try? HostPort(parsing: coordinator) else { throw ValidationError("--coordinator is host:port") }
        let names = try BenchTransfer.participantNames(participants)
        let token = token ?? ProcessInfo.processInfo.environment["SETTLE_TOKEN"] ?? ""
        try await SettleClient.withClient(host: address.host, port: address.port, token: token) { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<concurrency {
                    group.addTask {
                        for index in stride(from: worker, to: transfers, by: concurrency) {
                            let branches = BenchTransfer.branches(
                                participants: names, debit: Self.debitAccount(index), credit: BenchAccounts.merchant
                            )
                            try await call(client, index, branches)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    func id(_ index: Int) -> String { Self.id(prefix: prefix, index) }

    /// Transfer `index`'s id and payer, the same for `undecided-log`, which writes these transfers
    /// into a log instead of submitting them.
    static func id(prefix: String, _ index: Int) -> String { "\(prefix)-\(index)" }
    static func debitAccount(_ index: Int) -> String { BenchAccounts.debitAccount(index % BenchAccounts.count) }
}

struct HoldCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold", abstract: "Submit transfers without waiting for them (each durably accepted, then driven)."
    )

    @OptionGroup var held: HeldTransferOptions

    func run() async throws {
        let started = ContinuousClock.now
        try await held.forEachTransfer { [held] client, index, branches in
            _ = try await client.submit(
                id: held.id(index), branches: branches, prepareTimeout: HeldTransferOptions.prepareTimeout, wait: false,
                timeout: .seconds(60)
            )
        }
        print(#"{"held": \#(held.transfers), "seconds": \#(String(format: "%.2f", seconds(ContinuousClock.now - started)))}"#)
    }
}

struct AwaitHeldCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "await-held", abstract: "Wait for every transfer `hold` submitted to be final, and count how each ended."
    )

    @OptionGroup var held: HeldTransferOptions

    @Option(help: "Seconds to wait for any one transfer.")
    var timeout = 600

    func run() async throws {
        let started = ContinuousClock.now
        let endings = Mutex<[String: Int]>([:])
        try await held.forEachTransfer { [held, timeout] client, index, branches in
            // The same submission again is idempotent: it answers with the transfer, once final.
            let transfer = try await client.submit(
                id: held.id(index), branches: branches, prepareTimeout: HeldTransferOptions.prepareTimeout, wait: true,
                timeout: .seconds(timeout)
            )
            endings.withLock { $0["\(transfer.state)", default: 0] += 1 }
        }
        let counts = endings.withLock { $0 }.sorted { $0.key < $1.key }.map { #""\#($0.key)": \#($0.value)"# }
        print(#"{"seconds": \#(String(format: "%.2f", seconds(ContinuousClock.now - started))), \#(counts.joined(separator: ", "))}"#)
    }
}
