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

    @Option(help: "settled's client API, host:port; several, comma-separated, for several coordinator ids (routed by transfer id).")
    var coordinator: String

    @Option(help: "Client bearer token (default: $SETTLE_TOKEN).")
    var token: String?

    @Option(help: "Participant names, comma-separated: the debit's, then each credit's.")
    var participants = "bank-a,bank-b"

    @Option(help: "parallel or ordered (default: the coordinator's).")
    var prepareOrder: TransferSpec.PrepareOrder?

    @Option(help: "The system's name in the results (default: from the prepare order, participants and coordinators).")
    var systemName: String?

    func run() async throws {
        guard let addresses = try? HostPort.list(parsing: coordinator) else { throw ValidationError("--coordinator is host:port[,host:port…]") }
        let router = CoordinatorRouter(coordinators: addresses.map { [$0] })
        let token = token ?? ProcessInfo.processInfo.environment["SETTLE_TOKEN"] ?? ""
        let names = try BenchTransfer.participantNames(participants)
        try load.validate(banks: names.count)
        let system =
            systemName
            ?? (prepareOrder == .ordered ? "settle-ordered" : "settle") + (names.count == 2 ? "" : "-\(names.count)")
            + (addresses.count == 1 ? "" : "-\(addresses.count)-coordinators")
        let run = UInt32.random(in: 0...UInt32.max)
        let result = try await withClients(addresses, token: token) { clients in
            await load.transferLoad(system: system).run { worker, sequence in
                let accounts = load.accounts(worker: worker)
                let id = "bench-\(run)-\(worker)-\(sequence)"
                let transfer = try await clients[router.index(forTransfer: id)].submit(
                    id: id,
                    branches: BenchTransfer.branches(participants: names, debit: accounts.debit, credit: accounts.credit),
                    prepareOrder: prepareOrder, wait: true, timeout: .seconds(30)
                )
                guard transfer.state == .committed else { throw ValidationError("\(transfer.transferID): \(transfer.state) \(transfer.reason)") }
            }
        }
        try TransferLoad.emit(result)
    }
}

/// One open client per address, for the whole run.
private func withClients<Result: Sendable>(
    _ addresses: ArraySlice<HostPort>, token: String, opened: [SettleClient] = [], _ body: ([SettleClient]) async throws -> Result
) async throws -> Result {
    guard let first = addresses.first else { return try await body(opened) }
    return try await SettleClient.withClient(host: first.host, port: first.port, token: token) { client in
        try await withClients(addresses.dropFirst(), token: token, opened: opened + [client], body)
    }
}

private func withClients<Result: Sendable>(
    _ addresses: [HostPort], token: String, _ body: ([SettleClient]) async throws -> Result
) async throws -> Result {
    try await withClients(addresses[...], token: token, body)
}

extension TransferSpec.PrepareOrder: ExpressibleByArgument {}
