import ArgumentParser
import Foundation
import SettleProtocol

struct TransferResolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Record an operator's decision for a stuck transfer (sealed in the log as MANUAL).",
        discussion:
            "Use it once the data is what the outcome says (for example after correcting a failed compensation by hand). The MANUAL record carries the outcome, the reason and the operator: the client your token or certificate names. With four-eyes resolution configured, this only proposes; a different operator runs `settle transfer approve`."
    )

    @OptionGroup var options: CoordinatorOptions

    @Argument(help: "The stuck transfer's id.")
    var id: String

    @Option(help: "committed, compensated or aborted.")
    var outcome: String

    @Option(help: "Why, for the audit trail.")
    var reason: String

    /// `--outcome`, here and for `approve`, as the API names it.
    static func state(of outcome: String) throws -> Settle_V1_TransferState {
        let outcomes: [String: Settle_V1_TransferState] = ["committed": .committed, "compensated": .compensated, "aborted": .aborted]
        guard let state = outcomes[outcome] else { throw ValidationError("--outcome is committed, compensated or aborted") }
        return state
    }

    func run() async throws {
        let state = try Self.state(of: outcome)
        let transfer = try await options.withClient { try await $0.resolve(id: id, outcome: state, reason: reason) }
        TransferPrinter.print(transfer)
    }
}

struct TransferRejectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reject",
        abstract: "Four-eyes: withdraw (as its proposer) or refuse the resolution waiting for approval (sealed as REJECTED)."
    )

    @OptionGroup var options: CoordinatorOptions

    @Argument(help: "The stuck transfer's id.")
    var id: String

    @Option(help: "Why, for the audit trail.")
    var reason: String

    func run() async throws {
        let transfer = try await options.withClient { try await $0.reject(id: id, reason: reason) }
        TransferPrinter.print(transfer)
    }
}

struct TransferApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Four-eyes: approve another operator's proposed resolution of a stuck transfer (sealed as MANUAL naming both)."
    )

    @OptionGroup var options: CoordinatorOptions

    @Argument(help: "The stuck transfer's id.")
    var id: String

    @Option(
        help:
            "committed, compensated or aborted: the outcome you approve, as `settle transfer show` prints the proposal. Nothing is approved if the proposal waiting now is another."
    )
    var outcome: String

    func run() async throws {
        let state = try TransferResolveCommand.state(of: outcome)
        let transfer = try await options.withClient { settle in
            let current = try await settle.get(id: id)
            guard !current.proposalOperator.isEmpty else { throw ValidationError("transfer \(id) has no proposal to approve") }
            let proposal = "\(TerminalText.escaped(current.proposedResolution)), because: \(TerminalText.escaped(current.proposalReason))"
            guard current.proposalOutcome == state else { throw ValidationError("the proposal is \(proposal); nothing was approved") }
            print("approving \(proposal)")
            return try await settle.approve(seen: current)
        }
        TransferPrinter.print(transfer)
    }
}
