import Foundation
import GRPCCore
import SettleClient
import SettleProtocol
import SettleTestSupport
import Testing

@Suite("coordinator lifecycle: drain, checkpoints", .timeLimit(.minutes(3)))
struct LifecycleTests {
    /// SIGTERM while a transfer waits on a participant: /healthz turns 503, new submissions are
    /// refused as UNAVAILABLE, the in-flight transfer still reaches its logged decision, and a
    /// restart finishes it. Each step waits for the previous one's visible effect, never a delay.
    @Test(.timeLimit(.minutes(2)))
    func sigtermDrainsInFlightTransfersToADecision() async throws {
        // Deadlines no loaded machine reaches: the drain must end by the decision, which comes only
        // when this test releases the row, never by its own deadline.
        try await withDeployment(configuration: ["prepareTimeoutMilliseconds": 120_000, "drainMilliseconds": 120_000]) { deployment throws in
            #expect(try await deployment.healthStatus() == 200)
            // bank-b's credit waits on b2, locked here until the drain has been seen.
            try await deployment.pools[1].withConnection { blocker in
                try await blocker.query("BEGIN")
                try await blocker.query("SELECT 1 FROM accounts WHERE id = 'b2' FOR UPDATE")
                try await deployment.client { settle in
                    _ = try await settle.submit(id: "slow", branches: Deployment.branches(amount: 5, fromA: true, account: 2))
                }
                try await waitUntil(timeout: .seconds(30), "bank-a's debit prepared while bank-b's credit waits") {
                    let transfer = try await deployment.client { try await $0.get(id: "slow") }
                    return transfer.state == .preparing && transfer.branches.first?.state == "prepared"
                }
                deployment.settled?.process.terminate()  // SIGTERM
                try await waitUntil(timeout: .seconds(10), "/healthz answers 503 while draining") {
                    (try? await deployment.healthStatus()) == 503
                }
                let refused = await #expect(throws: RPCError.self, "a draining coordinator accepts no new transfer") {
                    _ = try await deployment.client {
                        try await $0.submit(id: "late", branches: Deployment.branches(amount: 5, fromA: true, account: 3))
                    }
                }
                #expect(refused?.code == .unavailable)
                #expect(refused?.message.contains("shutting down") == true, "\(refused?.message ?? "")")
                try await blocker.query("COMMIT")
            }
            #expect(try await deployment.settled?.waitForExit(timeout: .seconds(20)) == true)
            #expect(deployment.settled?.process.terminationReason == .exit)
            // systemd and Kubernetes count any other status as a failure.
            #expect(deployment.settled?.process.terminationStatus == 0, "a completed drain exits 0")
            let stderr = (try? String(contentsOfFile: deployment.settled?.errorLogPath ?? "", encoding: .utf8)) ?? ""
            #expect(stderr.contains("drained: 1 transfer decided, none left undecided"), "\(stderr.suffix(2000))")
            #expect(!stderr.contains("Error:"), "\(stderr.suffix(2000))")
            let dump = try run("settle", ["audit", "dump", "--log", deployment.logDirectory])
            #expect(dump.output.contains(#"COMMIT  {"transfer":"slow"}"#), "COMMIT of 'slow' is in the log:\n\(dump.output)")
            try deployment.startSettled()
            try await waitUntil { try await deployment.client { try await $0.get(id: "slow") }.state == .committed }
            #expect(try await deployment.postingCounts("slow") == [1, 1])
            let unknown = await #expect(throws: RPCError.self) { _ = try await deployment.client { try await $0.get(id: "late") } }
            #expect(unknown?.code == .notFound, "the refused submission left nothing behind")
            try await expectEveryInvariant(deployment)
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
            // The deployment checkpoints every 2 s: wait for one sealed after all thirty.
            func checkpoints() throws -> Int {
                try run("settle", ["audit", "dump", "--log", deployment.logDirectory]).output.split(separator: "\n")
                    .filter { $0.contains("CHECKPOINT") }.count
            }
            let before = try checkpoints()
            try await waitUntil(timeout: .seconds(20), "a checkpoint after the thirty transfers") { try checkpoints() > before }
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
