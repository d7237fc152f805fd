import ExampleBank
import Foundation
import SettleClient
import SettleProtocol
import SettleTestSupport
import Testing

/// Deadlocks across the two databases, built on purpose, broken by settled's detector.
@Suite("deadlocks across databases", .timeLimit(.minutes(3)))
struct DeadlockTests {
    /// T1 moves a1 → b1 and T2 moves b1 → a1. Both debits prepare first (each credit is held back
    /// a second by fault injection), so T1 holds a1 and waits for b1 at bank-b while T2 holds b1
    /// and waits for a1 at bank-a: a cycle neither PostgreSQL can see. The prepare deadline is a
    /// minute, so only the detector can end it: it aborts the younger, and the other commits.
    @Test func oppositeTransfersOnTheSameRowsDeadlockAndTheYoungerIsAborted() async throws {
        let slowCredit = ["--fault-inject-delay", "credit=1000"]
        try await withDeployment(bankArguments: [slowCredit, slowCredit], configuration: ["prepareTimeoutMilliseconds": 60_000]) { deployment throws in
            let started = ContinuousClock.now
            async let first = deployment.client {
                try await $0.submit(id: "deadlock-1", branches: Deployment.branches(amount: 10, fromA: true, account: 1), wait: true)
            }
            // Submitted later, so the younger of the two.
            try await waitUntil(timeout: .seconds(10), "deadlock-1 admitted") {
                (try? await deployment.client { try await $0.get(id: "deadlock-1") }) != nil
            }
            async let second = deployment.client {
                try await $0.submit(id: "deadlock-2", branches: Deployment.branches(amount: 10, fromA: false, account: 1), wait: true)
            }
            let (older, younger) = try await (first, second)
            print("deadlock across databases broken; both transfers final after \(ContinuousClock.now - started)")
            #expect(older.state == .committed, "\(older.state): \(older.reason)")
            #expect(younger.state == .aborted, "\(younger.state): \(younger.reason)")
            #expect(younger.reason.contains("deadlock with transfer deadlock-1"), "\(younger.reason)")
            #expect(try await deployment.metrics().contains("settle_deadlocks_broken_total 1"))
            #expect(try await deployment.postingCounts("deadlock-1") == [1, 1])
            #expect(try await deployment.postingCounts("deadlock-2") == [0, 0])
            try await expectEveryInvariant(deployment)
        }
    }

    /// A transfer with two branches at one bank, the second needing the row the first holds: it
    /// waits for itself, which no database resolves either. The detector aborts it.
    @Test func aTransferWaitingForItsOwnPreparedBranchIsAborted() async throws {
        try await withDeployment(bankArguments: [["--fault-inject-delay", "credit=1000"], []], configuration: ["prepareTimeoutMilliseconds": 60_000]) {
            deployment throws in
            let branches = [
                SettleClient.Branch(participant: "bank-a", action: "debit", payload: #"{"account":"a2","amount":5}"#, compensation: "refund"),
                SettleClient.Branch(participant: "bank-a", action: "credit", payload: #"{"account":"a2","amount":5}"#, compensation: "reverse-credit"),
            ]
            let transfer = try await deployment.client { try await $0.submit(id: "self-wait", branches: branches, wait: true) }
            #expect(transfer.state == .aborted)
            #expect(transfer.reason.contains("a branch waits for another branch of this transfer"), "\(transfer.reason)")
            try await expectEveryInvariant(deployment)
        }
    }
}
