import ArgumentParser
import Foundation
import SettleCoordinator
import SettleCore
import SignedLog

/// Writes what a coordinator's log holds when it crashes with many transfers accepted and none
/// decided: `hold`'s transfers (the same ids, branches and policy), each as the ACCEPTED record
/// settled seals, straight into a stopped settled's log. Submitting 100,000 transfers to banks
/// frozen mid-prepare would need settled to hold them all in memory first; the recovery cell
/// measures the restart, not that. With `--finished`, each transfer is sealed committed instead
/// (ACCEPTED, COMMIT, END), which is what the console cell needs remembered.
struct UndecidedLogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "undecided-log", abstract: "Append hold's transfers as undecided (ACCEPTED only) to a stopped settled's log."
    )

    @Option(help: "settled's log directory (settled must not be running).")
    var log: String

    @Option(help: "settled's signing key (PEM).")
    var signingKey: String

    @Option(help: "The client the transfers were submitted by, as settled's configuration names it.")
    var client = "bench"

    @Option(help: "Transfer ids are <prefix>-0 … <prefix>-(transfers-1).")
    var prefix: String

    @Option(help: "How many transfers.")
    var transfers = 100_000

    @Option(help: "Participant names, comma-separated: the debit's, then each credit's.")
    var participants = "bank-a,bank-b"

    @Flag(help: "Seal each transfer committed (ACCEPTED, COMMIT, END) rather than leave it undecided.")
    var finished = false

    /// Records per append: a few group-commit batches' worth.
    static let chunk = 1000

    func run() async throws {
        let names = try BenchTransfer.participantNames(participants)
        let signedLog = try await SignedLog.open(directory: log, signingKey: try SigningKey(pemFile: signingKey))
        let submittedAt = Int64(Date().timeIntervalSince1970 * 1000)
        for first in stride(from: 0, to: transfers, by: Self.chunk) {
            let entries = try (first..<min(transfers, first + Self.chunk)).map { index in
                let spec = TransferSpec(
                    id: HeldTransferOptions.id(prefix: prefix, index),
                    branches: BenchTransfer.specBranches(
                        participants: names, debit: HeldTransferOptions.debitAccount(index), credit: BenchAccounts.merchant
                    ),
                    policy: .init(prepareTimeoutMilliseconds: UInt32(clamping: HeldTransferOptions.prepareTimeout.wholeMilliseconds))
                )
                let admission = try Admission(epoch: Admission.singleDaemonEpoch, nonce: UInt64.random(in: 1...UInt64.max))
                let accepted = CoordinatorRecord.accepted(spec, admission: admission, submittedAtMilliseconds: submittedAt, submittedBy: client)
                guard finished else { return [accepted.entry()] }
                let facts = FinalFacts(
                    status: .committed, path: "2pc", reason: "", finishedAtMilliseconds: submittedAt,
                    branchStates: spec.branches.map { _ in "committed" }, admission: admission
                )
                return [
                    accepted.entry(), CoordinatorRecord.commit(transferID: spec.id).entry(),
                    CoordinatorRecord.end(transferID: spec.id, outcome: .committed, facts: facts).entry(),
                ]
            }
            .flatMap { $0 }
            _ = try await signedLog.append(contentsOf: entries)
        }
        await signedLog.close()
        print(finished ? #"{"finished": \#(transfers)}"# : #"{"undecided": \#(transfers)}"#)
    }
}
