import ArgumentParser
import Foundation
import SettleClient
import SettleCore

/// Settle end to end: a client submits each transfer and waits until it is final (client →
/// settled → both participants → PostgreSQL, with ACCEPTED, COMMIT and END in the sealed log).
struct SettleEndToEndCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settle", abstract: "Transfers submitted to a running settled and awaited until final."
    )

    @OptionGroup var load: LoadOptions

    @Option(help: "settled's client API, host:port.")
    var coordinator: String

    @Option(help: "Client bearer token (default: $SETTLE_TOKEN).")
    var token: String?

    @Option(help: "Participant names of the debit and the credit.")
    var participants = "bank-a,bank-b"

    @Option(help: "parallel or ordered (default: the coordinator's).")
    var prepareOrder: TransferSpec.PrepareOrder?

    func run() async throws {
        guard let address = try? HostPort(parsing: coordinator) else { throw ValidationError("--coordinator is host:port") }
        let token = token ?? ProcessInfo.processInfo.environment["SETTLE_TOKEN"] ?? ""
        let names = participants.split(separator: ",").map(String.init)
        guard names.count == 2 else { throw ValidationError("--participants names two participants") }
        let run = UInt32.random(in: 0...UInt32.max)
        let result = try await SettleClient.withClient(host: address.host, port: address.port, token: token) { client in
            await load.transferLoad(system: prepareOrder == .ordered ? "settle-ordered" : "settle").run { worker, sequence in
                let accounts = load.accounts(worker: worker)
                let transfer = try await client.submit(
                    id: "bench-\(run)-\(worker)-\(sequence)",
                    branches: [
                        .init(
                            participant: names[0], action: "debit",
                            payload: #"{"account":"\#(accounts.debit)","amount":\#(BenchAccounts.amount)}"#
                        ),
                        .init(
                            participant: names[1], action: "credit",
                            payload: #"{"account":"\#(accounts.credit)","amount":\#(BenchAccounts.amount)}"#
                        ),
                    ],
                    prepareOrder: prepareOrder, wait: true, timeout: .seconds(30)
                )
                guard transfer.state == .committed else { throw ValidationError("\(transfer.transferID): \(transfer.state) \(transfer.reason)") }
            }
        }
        try TransferLoad.emit(result)
    }
}

extension TransferSpec.PrepareOrder: ExpressibleByArgument {}
