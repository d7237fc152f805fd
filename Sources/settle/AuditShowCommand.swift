import ArgumentParser
import Foundation
import SettleCore
import SignedLog

struct AuditShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one transfer's history as the log recorded it, each record with its LSN, time and seal."
    )

    @Option(help: "The log: a directory, or postgres://…#coordinator-id for a log in PostgreSQL.")
    var log: String

    @Option(name: .long, help: KeyFiles.help)
    var publicKey: [String] = []

    @Argument(help: "The transfer id.")
    var transfer: String

    func run() throws {
        let keys = try KeyFiles.optional(publicKey)
        var found = 0
        do {
            try LogReader(directory: log, keys: keys).forEachBatch(from: .first) { records, seal in
                for record in records where CoordinatorRecordType(rawValue: record.type.rawValue) != nil {
                    guard CoordinatorPayload.transferID(in: record.payload) == transfer else { continue }
                    found += 1
                    print(
                        "LSN \(record.lsn)  \(Timestamp.iso8601(nanoseconds: record.appendedAtNanoseconds))  "
                            + "\(SettleCommand.typeName(record.type))  sealed by seal \(seal.number)  \(PayloadText.render(record.payload))"
                    )
                }
            }
        } catch let error as SignedLogError {
            printError("settle audit show: \(error)")
            throw ExitCode(1)
        }
        guard found > 0 else {
            printError("settle audit show: the log holds no record of transfer \(transfer)")
            throw ExitCode(1)
        }
    }
}
