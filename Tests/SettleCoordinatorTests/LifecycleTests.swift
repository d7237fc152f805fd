import Foundation
import SettleClient
import SettleProtocol
import SettleTestSupport
import Testing

@Suite("coordinator lifecycle: drain, checkpoints")
struct LifecycleTests {
    /// SIGTERM while a transfer waits on a slow participant: new submissions are refused, the
    /// in-flight transfer still reaches its logged decision, and a restart finishes it.
    @Test func sigtermDrainsInFlightTransfersToADecision() async throws {
        try await withDeployment(bankArguments: [[], ["--fault-inject-delay", "credit=1500"]], startsSettled: false) { deployment throws in
            try deployment.startSettled()
            try await deployment.client { settle in
                _ = try await settle.submit(id: "slow", branches: Deployment.branches(amount: 5, fromA: true, account: 2))
            }
            try await Task.sleep(for: .milliseconds(200))
            deployment.settled?.process.terminate()  // SIGTERM
            try await Task.sleep(for: .milliseconds(100))
            await #expect(throws: (any Error).self, "a draining coordinator accepts no new transfer") {
                _ = try await deployment.client { try await $0.submit(id: "late", branches: Deployment.branches(amount: 5, fromA: true, account: 3)) }
            }
            #expect(try await deployment.settled?.waitForExit(timeout: .seconds(20)) == true)
            #expect(deployment.settled?.process.terminationReason == .exit)
            let dump = try run("settle", ["audit", "dump", "--log", deployment.logDirectory])
            #expect(dump.output.contains(#"COMMIT  {"transfer":"slow"}"#), "COMMIT of 'slow' is in the log:\n\(dump.output)")
            try deployment.startSettled()
            try await waitUntil { try await deployment.client { try await $0.get(id: "slow") }.state == .committed }
            #expect(try await deployment.postingCounts("slow") == [1, 1])
            #expect(try await deployment.preparedUnderPrefix().isEmpty)
        }
    }

    /// After a checkpoint, a restart reads only the records that follow it.
    @Test func restartReadsOnlyFromTheLastCheckpoint() async throws {
        try await withDeployment(startsSettled: false) { deployment throws in
            try deployment.startSettled()
            try await deployment.client { settle in
                for index in 0..<30 {
                    _ = try await settle.submit(id: "before-\(index)", branches: Deployment.branches(amount: 1, fromA: true, account: 1), wait: true)
                }
            }
            // The deployment checkpoints every 2 s.
            try await Task.sleep(for: .milliseconds(2500))
            try await deployment.client { settle in
                _ = try await settle.submit(id: "after", branches: Deployment.branches(amount: 1, fromA: true, account: 1), wait: true)
            }
            deployment.settled?.stop()
            try deployment.startSettled()
            let log = try String(contentsOfFile: deployment.settled!.errorLogPath, encoding: .utf8)
            let recovered = try #require(log.split(separator: "\n").first { $0.contains("recovered from the log") })
            let records = recovered.split(separator: " ").first { $0.hasPrefix("records=") }.flatMap { Int($0.dropFirst(8)) }
            #expect(recovered.contains("checkpoint=yes"))
            #expect((records ?? 999) <= 3, "30 earlier transfers (90 records) were not re-read: \(recovered)")
            #expect(try await deployment.client { try await $0.get(id: "before-0") }.state == .committed, "remembered via the checkpoint")
            #expect(try await deployment.client { try await $0.get(id: "after") }.state == .committed)
        }
    }
}
