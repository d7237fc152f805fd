import ExampleBank
import Foundation
import SettleClient
import SettleProtocol
import SettleTestSupport
import Testing

/// Deadlocks across the two databases, built on purpose, broken by settled's detector.
@Suite("deadlocks across databases", .timeLimit(.minutes(3)))
struct DeadlockTests {
    /// T1 moves a1 → b1, then T2 moves b1 → a1. Each credit is held back ten seconds by fault
    /// injection, and T2 is submitted only once T1's debit is prepared; the cycle forms when the
    /// credits run: T1 holds a1 and waits for b1 at bank-b while T2 holds b1 and waits for a1 at
    /// bank-a, which neither PostgreSQL can see. The prepare deadline is two minutes, so only the
    /// detector can end it: it aborts the younger, T2, naming T1, and T1 commits.
    @Test func oppositeTransfersOnTheSameRowsDeadlockAndTheYoungerIsAborted() async throws {
        let slowCredit = ["--fault-inject-delay", "credit=10000"]
        try await withDeployment(bankArguments: [slowCredit, slowCredit], configuration: ["prepareTimeoutMilliseconds": 120_000]) {
            deployment throws in
            func debitPrepared(_ id: String, branch: Int) async -> Bool {
                (try? await deployment.client { try await $0.get(id: id) })?.branches[branch].state == "prepared"
            }
            async let first = deployment.client {
                try await $0.submit(id: "deadlock-1", branches: Deployment.branches(amount: 10, fromA: true, account: 1), wait: true)
            }
            try await waitUntil(timeout: .seconds(8), "deadlock-1's debit prepared") { await debitPrepared("deadlock-1", branch: 0) }
            async let second = deployment.client {
                try await $0.submit(id: "deadlock-2", branches: Deployment.branches(amount: 10, fromA: false, account: 1), wait: true)
            }
            try await waitUntil(timeout: .seconds(8), "deadlock-2's debit prepared") { await debitPrepared("deadlock-2", branch: 1) }
            let cycleForms = ContinuousClock.now
            let (older, younger) = try await (first, second)
            print("deadlock across databases: both transfers final \(ContinuousClock.now - cycleForms) after both debits prepared")
            #expect(older.state == .committed, "\(older.state): \(older.reason)")
            #expect(younger.state == .aborted, "\(younger.state): \(younger.reason)")
            #expect(younger.reason.contains("deadlock with transfer deadlock-1"), "\(younger.reason)")
            #expect(try await deployment.metrics().contains("settle_deadlocks_broken_total 1"))
            #expect(try await deployment.postingCounts("deadlock-1") == [1, 1])
            #expect(try await deployment.postingCounts("deadlock-2") == [0, 0])

            // The same pair again, choosing no order: the default, adaptive, now prepares transfers
            // over bank-a and bank-b in order, so no cycle forms and both commit.
            async let third = deployment.client {
                try await $0.submit(id: "deadlock-3", branches: Deployment.branches(amount: 10, fromA: true, account: 1), wait: true)
            }
            try await waitUntil(timeout: .seconds(8), "deadlock-3's debit prepared") { await debitPrepared("deadlock-3", branch: 0) }
            async let fourth = deployment.client {
                try await $0.submit(id: "deadlock-4", branches: Deployment.branches(amount: 10, fromA: false, account: 1), wait: true)
            }
            let (thirdEnded, fourthEnded) = try await (third, fourth)
            #expect(thirdEnded.state == .committed, "\(thirdEnded.state): \(thirdEnded.reason)")
            #expect(fourthEnded.state == .committed, "\(fourthEnded.state): \(fourthEnded.reason)")
            let metrics = try await deployment.metrics()
            #expect(metrics.contains("settle_deadlocks_broken_total 1"), "no second deadlock")
            #expect(metrics.contains("settle_transfers_ordered_after_deadlock_total 2"))
            try await expectEveryInvariant(deployment)
        }
    }

    /// The same two opposite transfers, prepared in order (bank-a, then bank-b): T2's first
    /// prepare waits at bank-a for T1's debit, holding nothing at bank-b, so T1's credit goes
    /// through and no cycle forms. Both commit, one after the other, and the detector finds nothing.
    @Test func orderedPreparesOfOppositeTransfersDoNotDeadlock() async throws {
        // Five seconds: the window in which T1's debit is seen prepared must outlast a poll of a
        // loaded machine (one second was missed under the whole suite's load).
        let slowCredit = ["--fault-inject-delay", "credit=5000"]
        try await withDeployment(bankArguments: [slowCredit, slowCredit], configuration: ["prepareTimeoutMilliseconds": 120_000]) {
            deployment throws in
            async let first = deployment.client {
                try await $0.submit(
                    id: "ordered-1", branches: Deployment.branches(amount: 10, fromA: true, account: 1), prepareOrder: .ordered, wait: true
                )
            }
            try await waitUntil(timeout: .seconds(30), "ordered-1's debit prepared") {
                (try? await deployment.client { try await $0.get(id: "ordered-1") })?.branches[0].state == "prepared"
            }
            async let second = deployment.client {
                try await $0.submit(
                    id: "ordered-2", branches: Deployment.branches(amount: 10, fromA: false, account: 1), prepareOrder: .ordered, wait: true
                )
            }
            let (older, younger) = try await (first, second)
            #expect(older.state == .committed, "\(older.state): \(older.reason)")
            #expect(younger.state == .committed, "\(younger.state): \(younger.reason)")
            let broken = try await deployment.metrics().split(separator: "\n").filter { $0.hasPrefix("settle_deadlocks_broken_total") }
            #expect(broken.allSatisfy { $0.hasSuffix(" 0") }, "the detector broke a cycle: \(broken)")
            #expect(try await deployment.postingCounts("ordered-1") == [1, 1])
            #expect(try await deployment.postingCounts("ordered-2") == [1, 1])
            try await expectEveryInvariant(deployment)
        }
    }

    /// A transfer with two branches at one bank, the second needing the row the first holds: it
    /// waits for itself, which no database resolves either. The detector aborts it.
    @Test func aTransferWaitingForItsOwnPreparedBranchIsAborted() async throws {
        try await withDeployment(
            bankArguments: [["--fault-inject-delay", "credit=1000"], []], configuration: ["prepareTimeoutMilliseconds": 120_000]
        ) {
            deployment throws in
            let branches = [
                SettleClient.Branch(participant: "bank-a", action: "debit", payload: #"{"account":"a2","amount":5}"#, compensation: "refund"),
                SettleClient.Branch(
                    participant: "bank-a", action: "credit", payload: #"{"account":"a2","amount":5}"#, compensation: "reverse-credit"),
            ]
            let transfer = try await deployment.client { try await $0.submit(id: "self-wait", branches: branches, wait: true) }
            #expect(transfer.state == .aborted)
            #expect(transfer.reason.contains("a branch waits for another branch of this transfer"), "\(transfer.reason)")
            try await expectEveryInvariant(deployment)
        }
    }
}
