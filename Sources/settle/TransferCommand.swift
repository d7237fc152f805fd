import ArgumentParser
import Foundation
import SettleClient
import SettleCore
import SettleProtocol
import SignedLog

struct TransferCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transfer",
        abstract: "Submit and inspect transfers at a coordinator.",
        subcommands: [
            TransferSubmitCommand.self, TransferShowCommand.self, TransferListCommand.self, TransferResolveCommand.self,
            TransferApproveCommand.self, TransferRejectCommand.self,
        ]
    )
}

struct CoordinatorOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The coordinator's client API, host:port; several, comma-separated, for an active settled and its standbys.",
            discussion: "Each call goes to the one that serves, retried on the next while the others are unavailable (a failover)."
        )
    )
    var coordinator = "127.0.0.1:7100"

    @Option(
        help:
            "A file holding the client token (mode 0600). Or set SETTLE_TOKEN; --token also works, but argv is visible to every user of the machine.")
    var tokenFile: String?

    @Option(help: .hidden)
    var token: String?

    @Flag(help: "Connect with TLS, verifying settled's certificate with the system's trust roots.")
    var tls = false

    @Option(help: "Connect with TLS, verifying settled's certificate with these PEM certificates (implies --tls).")
    var tlsCA: String?

    @Option(help: "This client's PEM certificate chain, when settled requires mutual TLS (with --tls-key).")
    var tlsCertificate: String?

    @Option(help: "The PEM private key of --tls-certificate.")
    var tlsKey: String?

    func validate() throws {
        guard (tlsCertificate == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-certificate and --tls-key go together")
        }
    }

    private var clientTLS: SettleClient.TLS? {
        guard tls || tlsCA != nil || tlsCertificate != nil else { return nil }
        return SettleClient.TLS(certificateAuthority: tlsCA, certificateChain: tlsCertificate, privateKey: tlsKey)
    }

    func withClient<Result: Sendable>(_ body: (SettleClient) async throws -> Result) async throws -> Result {
        guard let addresses = try? HostPort.list(parsing: coordinator) else {
            throw ValidationError("--coordinator must be host:port[,host:port…]")
        }
        let fromFile = try tokenFile.map {
            String(decoding: try PrivateKeyFile.readOwnerOnly($0), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if token != nil {
            printError(
                "settle: warning: --token puts the token in argv, where every user of this machine can read it; use --token-file or SETTLE_TOKEN")
        }
        // With a client certificate the token may be left out: the certificate names the client.
        let token = fromFile ?? token ?? ProcessInfo.processInfo.environment["SETTLE_TOKEN"] ?? ""
        guard !token.isEmpty || tlsCertificate != nil else {
            throw ValidationError("give a client token with --token-file or SETTLE_TOKEN, or a client certificate with --tls-certificate")
        }
        // One address fails at once, as it always did; several wait out a takeover.
        return try await SettleClient.withFailover(
            addresses: addresses, token: token, tls: clientTLS, retryFor: addresses.count > 1 ? .seconds(30) : .zero, body
        )
    }
}

struct TransferSubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a transfer (idempotent by --id).",
        discussion: """
            Each --branch is participant:action:payload[:compensation], the payload JSON with amounts in \
            minor units, e.g. --branch 'bank-a:debit:{"account":"alice","amount":500}:refund'.
            """
    )

    @OptionGroup var options: CoordinatorOptions

    @Option(help: "The transfer id (idempotency key): [A-Za-z0-9._-]{1,128}.")
    var id: String

    @Option(name: .customLong("branch"), help: "participant:action:payload[:compensation]; repeat per branch, in order.")
    var branches: [String]

    @Option(help: "Prepare deadline in milliseconds (default: the coordinator's).")
    var prepareTimeoutMs: Int?

    @Flag(help: "If a branch misses the prepare deadline, finish as a saga (every branch needs a compensation).")
    var sagaFallback = false

    @Option(help: "Saga only: how long late branches are re-driven before compensation, in milliseconds.")
    var sagaTimeoutMs: Int?

    @Option(
        help:
            "parallel (every branch at once) or ordered (one after another, by participant name; first prepares cannot deadlock across databases). Default: the coordinator's."
    )
    var prepareOrder: TransferSpec.PrepareOrder?

    @Flag(help: "Wait for the final state.")
    var wait = false

    func run() async throws {
        let parsed = try branches.map(parseBranch)
        let transfer = try await options.withClient { client in
            try await client.submit(
                id: id, branches: parsed, prepareTimeout: prepareTimeoutMs.map { .milliseconds($0) },
                sagaFallback: sagaFallback ? true : nil, sagaTimeout: sagaTimeoutMs.map { .milliseconds($0) },
                prepareOrder: prepareOrder, wait: wait
            )
        }
        TransferPrinter.print(transfer)
    }

    private func parseBranch(_ text: String) throws -> SettleClient.Branch {
        let parts = text.split(separator: ":", maxSplits: 2).map(String.init)
        guard parts.count == 3 else { throw ValidationError("--branch '\(text)' is not participant:action:payload[:compensation]") }
        var payload = parts[2]
        var compensation = ""
        // A trailing ":name" after the JSON's closing brace names the compensation.
        if let brace = payload.lastIndex(of: "}"), let colon = payload[brace...].firstIndex(of: ":") {
            compensation = String(payload[payload.index(after: colon)...])
            payload = String(payload[..<colon])
        }
        return SettleClient.Branch(participant: parts[0], action: parts[1], payload: payload, compensation: compensation)
    }
}

struct TransferShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one transfer.")

    @OptionGroup var options: CoordinatorOptions

    @Argument(help: "The transfer id.")
    var id: String

    func run() async throws {
        TransferPrinter.print(try await options.withClient { try await $0.get(id: id) })
    }
}

struct TransferListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List transfers, newest first.")

    @OptionGroup var options: CoordinatorOptions

    @Option(
        name: .customLong("state"),
        help: "preparing, committing, committed, aborting, aborted, saga, compensating, compensated or stuck; repeatable."
    )
    var states: [String] = []

    @Option(help: "At most this many (1 to 1000).")
    var pageSize = 100

    @Option(help: "Continue after a previous page.")
    var pageToken = ""

    func run() async throws {
        let wanted = try states.map { name -> Settle_V1_TransferState in
            let table: [String: Settle_V1_TransferState] = [
                "preparing": .preparing, "committing": .committing, "committed": .committed, "aborting": .aborting,
                "aborted": .aborted, "stuck": .stuck, "saga": .saga, "compensating": .compensating, "compensated": .compensated,
            ]
            guard let state = table[name] else { throw ValidationError("unknown state '\(name)'") }
            return state
        }
        let page = try await options.withClient { try await $0.list(states: wanted, pageSize: pageSize, pageToken: pageToken) }
        for transfer in page.transfers {
            print(
                "\(transfer.transferID)  \(TransferPrinter.name(transfer.state))  submitted \(transfer.submittedAtUnixMs)  "
                    + TerminalText.escaped(transfer.reason)
            )
        }
        if !page.nextPageToken.isEmpty { print("next page: --page-token '\(page.nextPageToken)'") }
    }
}

enum TransferPrinter {
    /// Reasons and branch states come from participants and clients: every one is escaped, so
    /// none can move the cursor, recolour or retitle the operator's terminal.
    static func print(_ transfer: Settle_V1_Transfer) {
        Swift.print("transfer \(transfer.transferID): \(name(transfer.state))")
        if !transfer.reason.isEmpty { Swift.print("  reason: \(TerminalText.escaped(transfer.reason))") }
        if !transfer.submittedBy.isEmpty { Swift.print("  submitted by: \(TerminalText.escaped(transfer.submittedBy))") }
        if !transfer.proposedResolution.isEmpty {
            Swift.print("  waiting for approval: \(TerminalText.escaped(transfer.proposedResolution))")
            Swift.print("    because: \(TerminalText.escaped(transfer.proposalReason))")
        }
        for branch in transfer.branches {
            Swift.print(
                "  \(branch.gid)  \(branch.participant)/\(branch.action)  \(TerminalText.escaped(branch.state))"
            )
        }
    }

    static func name(_ state: Settle_V1_TransferState) -> String {
        switch state {
        case .preparing: "preparing"
        case .committing: "committing"
        case .committed: "committed"
        case .aborting: "aborting"
        case .aborted: "aborted"
        case .saga: "saga"
        case .compensating: "compensating"
        case .compensated: "compensated"
        case .stuck: "stuck"
        default: "unknown"
        }
    }
}

extension TransferSpec.PrepareOrder: ExpressibleByArgument {}
