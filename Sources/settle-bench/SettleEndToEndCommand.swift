import ArgumentParser
import Foundation
import SettleClient
import SettleCore

/// Settle end to end: a client submits each transfer and waits until it is final (client →
/// settled → every participant → PostgreSQL, with ACCEPTED, COMMIT and END in the sealed log).
struct SettleEndToEndCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settle", abstract: "Transfers submitted to a running settled and awaited until final."
    )

    @OptionGroup var load: LoadOptions

    @Option(help: "settled's client API, host:port.")
    var coordinator: String

    @Option(help: "Client bearer token (default: $SETTLE_TOKEN).")
    var token: String?

    @Option(help: "Participant names, comma-separated: the debit's, then each credit's.")
    var participants = "bank-a,bank-b"

    @Option(help: "parallel or ordered (default: the coordinator's).")
    var prepareOrder: TransferSpec.PrepareOrder?

    func run() async throws {
        guard let address = try? HostPort(parsing: coordinator) else { throw ValidationError("--coordinator is host:port") }
        let token = token ?? ProcessInfo.processInfo.environment["SETTLE_TOKEN"] ?? ""
        let names = try BenchTransfer.participantNames(participants)
        try load.validate(banks: names.count)
        let system = (prepareOrder == .ordered ? "settle-ordered" : "settle") + (names.count == 2 ? "" : "-\(names.count)")
        let run = UInt32.random(in: 0...UInt32.max)
        let result = try await SettleClient.withClient(host: address.host, port: address.port, token: token) { client in
            await load.transferLoad(system: system).run { worker, sequence in
                let accounts = load.accounts(worker: worker)
                let transfer = try await client.submit(
                    id: "bench-\(run)-\(worker)-\(sequence)",
                    branches: BenchTransfer.branches(participants: names, debit: accounts.debit, credit: accounts.credit),
                    prepareOrder: prepareOrder, wait: true, timeout: .seconds(30)
                )
                guard transfer.state == .committed else { throw ValidationError("\(transfer.transferID): \(transfer.state) \(transfer.reason)") }
            }
        }
        try TransferLoad.emit(result)
    }
}

extension TransferSpec.PrepareOrder: ExpressibleByArgument {}
