import Foundation
import SignedLog
import SettleTestSupport
import Testing

@Suite("SIGKILL of a writer mid-batch", .timeLimit(.minutes(5)))
struct CrashTests {
    /// Kills a busy writer with SIGKILL several times. After each kill, reopening must succeed and
    /// keep every record the writer acknowledged (printed) before it died, and the chain continues
    /// across all the runs.
    @Test func everyAcknowledgedRecordSurvivesSIGKILL() async throws {
        let directory = try TemporaryDirectory()
        let keys = directory.subpath("keys")
        #expect(try run("settle", ["keygen", "--out", keys]).status == 0)
        let logPath = directory.subpath("log")
        var acknowledged: [UInt64: String] = [:]
        for round in 0..<5 {
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: try Products.path("settle-bench"))
            writer.arguments = [
                "log-writer", "--dir", logPath, "--key", keys + "/signing-key.pem", "--concurrency", "32",
                "--tag", "round\(round)",
            ]
            let output = Pipe()
            writer.standardOutput = output
            try writer.run()
            let lines = Shared<[String]>([])
            let reader = Thread {
                var pending = Data()
                while case let chunk = output.fileHandleForReading.availableData, !chunk.isEmpty {
                    pending.append(chunk)
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                        pending.removeSubrange(pending.startIndex...newline)
                        lines.value.withLock { $0.append(line) }
                    }
                }
            }
            reader.start()
            // Let it write for a varying while, then kill it wherever it is.
            let target = 200 + round * 350
            while lines.value.withLock({ $0.count }) < target && writer.isRunning { usleep(2000) }
            usleep(UInt32(1000 * (round * 7 % 5)))
            kill(writer.processIdentifier, SIGKILL)
            writer.waitUntilExit()
            while !reader.isFinished { usleep(1000) }
            #expect(writer.terminationReason == .uncaughtSignal)
            for line in lines.value.withLock({ $0 }) {
                let parts = line.split(separator: " ", maxSplits: 1)
                acknowledged[UInt64(parts[0])!] = String(parts[1])
            }

            let key = try SigningKey(pemFile: keys + "/signing-key.pem")
            let log = try await SignedLog.open(directory: logPath, signingKey: key)
            let records = try await log.records(from: .first)
            await log.close()
            let stored = Dictionary(uniqueKeysWithValues: records.map { ($0.lsn.rawValue, String(decoding: $0.payload, as: UTF8.self)) })
            let lost = acknowledged.filter { stored[$0.key] != $0.value }
            #expect(lost.isEmpty, "round \(round): \(lost.count) acknowledged records missing or changed")
            #expect(records.map(\.lsn.rawValue) == Array(1...UInt64(records.count)))
        }
        let verified = try run("settle", ["audit", "verify", "--log", logPath, "--public-key", keys + "/signing-key.pub.pem"])
        #expect(verified.status == 0, "\(verified.errorOutput)")
    }
}
