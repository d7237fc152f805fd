import ArgumentParser
import Foundation
import SignedLog

/// Appends forever and prints each acknowledged record ("<lsn> <payload>"), so a crash test can
/// SIGKILL it at any moment and check that every acknowledged record survived.
struct LogWriterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log-writer",
        abstract: "Append to a log until killed, printing every acknowledged LSN (crash tests).",
        shouldDisplay: false
    )

    @Option(help: "Log directory.")
    var dir: String

    @Option(help: "PEM private key.")
    var key: String

    @Option(help: "Concurrent appenders.")
    var concurrency: Int = 16

    @Option(help: "Payload prefix, so records of different runs differ.")
    var tag: String = "run"

    func run() async throws {
        let signingKey = try SigningKey(pemFile: key)
        let log = try await SignedLog.open(directory: dir, signingKey: signingKey)
        let output = FileHandle.standardOutput
        try await withThrowingTaskGroup(of: Void.self) { group in
            for appender in 0..<concurrency {
                group.addTask {
                    var sequence = 0
                    while true {
                        let payload = "\(tag)-\(appender)-\(sequence)"
                        let lsn = try await log.append(
                            LogEntry(type: RecordType(rawValue: RecordType.firstApplicationCode), payload: Array(payload.utf8))
                        )
                        // One write(2) per line: lines from concurrent appenders never interleave.
                        output.write(Data("\(lsn) \(payload)\n".utf8))
                        sequence += 1
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
