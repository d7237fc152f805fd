import ArgumentParser
import Foundation
import SettleAudit
import SignedLog

#if canImport(Glibc)
    import Glibc
#endif

struct AuditReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Check the log against the participants' databases, both ways; exit 1 on any discrepancy.",
        discussion: """
            Every branch the log finished must show in its database as decided (committed: its action row, not cancelled, \
            not prepared; aborted: no action effect; compensated: its compensation row), with the coordinator's signed order \
            on the row that did it; every settle_barrier row and every prepared transaction under the coordinator's prefix \
            must belong to a branch the log knows. Transfers still in flight, stuck or resolved by hand are counted, not judged. \
            Reads only: every database session is read-only.
            """
    )

    @Option(help: "The log: a directory, or postgres://…#coordinator-id for a log in PostgreSQL.")
    var log: String

    @Option(name: .long, help: KeyFiles.help)
    var publicKey: [String] = []

    @Option(help: "The coordinator id whose gids are reconciled.")
    var coordinatorID: String

    @Option(help: #"A JSON file (mode 0600) mapping participant names to read-only database URLs: {"bank-a": "postgres://…"}."#)
    var participants: String

    @Flag(help: "Print the summary and the discrepancies as JSON.")
    var json = false

    func run() async throws {
        let keys = try KeyFiles.required(publicKey)
        let databases = try ParticipantDatabases.load(participants)
        let terminal = isatty(STDERR_FILENO) == 1
        func progress(_ text: String) {
            if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8)) }
        }
        let expectations: LogExpectations
        do {
            expectations = try LogExpectations.read(directory: log, keys: keys) { progress("reading the log: LSN \($0)") }
        } catch let error as SignedLogError {
            printError("settle audit reconcile: \(error)")
            throw ExitCode(2)
        }
        let reconciliation = Reconciliation(coordinatorID: coordinatorID, expectations: expectations, keys: keys.keys)
        let summary = try await reconciliation.run(participants: databases) { progress("checked \($0)") }
        progress("")
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            print(
                """
                reconciled \(coordinatorID): \(summary.recordsRead) records, \(summary.transfers) transfers, \(databases.count) participants
                  branches checked        \(summary.branchesChecked)
                  left to operators       \(summary.branchesLeftToOperators) (stuck or resolved by hand)
                  in flight               \(summary.branchesInFlight)
                  discrepancies           \(summary.discrepancies.count)
                """
            )
            for discrepancy in summary.discrepancies { print(TerminalText.escaped(discrepancy.line)) }
        }
        if !summary.discrepancies.isEmpty { throw ExitCode(1) }
    }
}
