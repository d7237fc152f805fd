import ExampleBank
import Foundation
import GRPCCore
import PostgresClient
import SettleClient
import SettleProtocol
import SettleTestSupport
import Testing

/// bank-b is slow (ExampleBank's fault injection delays its credit past the prepare deadline).
@Suite("saga fallback against a slow participant", .timeLimit(.minutes(5)))
struct SagaTests {
    let slowCredit = [[], ["--fault-inject-delay", "credit=1500"]]

    func submit(
        _ deployment: Deployment, id: String, saga: Bool, account: String = "b7", sagaTimeout: Duration = .seconds(20),
        compensationRetriesMax: Int? = nil
    ) async throws -> Settle_V1_Transfer {
        let branches = [
            SettleClient.Branch(participant: "bank-a", action: "debit", payload: #"{"account":"a7","amount":300}"#, compensation: "refund"),
            SettleClient.Branch(
                participant: "bank-b", action: "credit", payload: #"{"account":"\#(account)","amount":300}"#, compensation: "reverse-credit"
            ),
        ]
        return try await deployment.client {
            try await $0.submit(
                id: id, branches: branches, prepareTimeout: .milliseconds(400), sagaFallback: saga, sagaTimeout: sagaTimeout,
                compensationRetriesMax: compensationRetriesMax, wait: true, timeout: .seconds(60)
            )
        }
    }

    func barrier(_ deployment: Deployment, bank: Int, _ gid: String) async throws -> [String] {
        try await deployment.pools[bank].query("SELECT op FROM settle_barrier WHERE gid = $1 ORDER BY op", [gid])
            .map { try $0.decode(String.self, column: "op") }
    }

    /// Every invariant (which stops settled and verifies the log), then the log as text.
    func dump(_ deployment: Deployment, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        try await expectEveryInvariant(deployment, sourceLocation: sourceLocation)
        return try run("settle", ["audit", "dump", "--log", deployment.logDirectory]).output
    }

    @Test func abortPolicyAbortsASlowTransfer() async throws {
        try await withDeployment(bankArguments: slowCredit, startsSettled: false) { deployment throws in
            try deployment.startSettled()
            let transfer = try await submit(deployment, id: "slow-abort", saga: false)
            #expect(transfer.state == .aborted)
            #expect(transfer.reason.contains("prepare deadline passed"))
            try await waitUntil { try await deployment.preparedUnderPrefix().isEmpty }
            #expect(try await deployment.postingCounts("slow-abort") == [0, 0])
            try await expectEveryInvariant(deployment)
        }
    }

    @Test func sagaPolicyCommitsWhenTheSlowBranchSucceeds() async throws {
        try await withDeployment(bankArguments: slowCredit, startsSettled: false) { deployment throws in
            try deployment.startSettled()
            let transfer = try await submit(deployment, id: "slow-saga", saga: true)
            #expect(transfer.state == .committed)
            #expect(transfer.path == "saga", "the final state alone would say 2pc")
            #expect(try await deployment.postingCounts("slow-saga") == [1, 1])
            #expect(try await deployment.preparedUnderPrefix().isEmpty)
            #expect(try await deployment.totalBalance() == deployment.expectedTotal)
            #expect(try await deployment.metrics().contains(#"settle_transfers_by_path_total{path="saga-committed"} 1"#))
            let log = try await dump(deployment)
            // The saga's deadline is sealed with it: its policy's 20 s after SAGA, which came the
            // 400 ms prepare deadline after submission.
            let deadline = try #require(log.firstMatch(of: #/SAGA  \{"deadlineAtMs":(\d+),"transfer":"slow-saga"\}/#)?.1)
            let submitted = try #require(log.firstMatch(of: #/"submittedAtMs":(\d+)/#)?.1)
            let sealedAfter = try #require(Int64(deadline)) - (try #require(Int64(submitted)))
            #expect((20_400...25_000).contains(sealedAfter), "the deadline is \(sealedAfter) ms after submission")
            #expect(!log.contains("COMPENSATE"))
        }
    }

    @Test func aSlowBranchThatRefusesIsCompensatedWithNoNetEffect() async throws {
        try await withDeployment(bankArguments: slowCredit, startsSettled: false) { deployment throws in
            try deployment.startSettled()
            // The credit goes to an account bank-b does not have: slow, then refused.
            let transfer = try await submit(deployment, id: "slow-refused", saga: true, account: "nobody")
            #expect(transfer.state == .compensated)
            #expect(transfer.path == "compensated")
            let debit = transfer.branches[0].gid
            #expect(try await barrier(deployment, bank: 0, debit) == ["action", "compensation"], "compensated exactly once")
            let kinds = try await deployment.pools[0].query("SELECT kind FROM postings WHERE gid = $1 ORDER BY kind", [debit])
                .map { try $0.decode(String.self, column: "kind") }
            #expect(kinds == ["debit", "refund"])
            #expect(try await deployment.totalBalance() == deployment.expectedTotal)
            #expect(try await BankSchema.balance(deployment.pools[0], account: "a7") == Deployment.openingBalance)
            #expect(try await deployment.preparedUnderPrefix().isEmpty)
            #expect(try await deployment.metrics().contains(#"settle_transfers_by_path_total{path="compensated"} 1"#))
            let log = try await dump(deployment)
            #expect(
                log.contains("SAGA") && log.contains("COMPENSATE")
                    && hasRecord(log, "COMPENSATED", #""path":"compensated""#, #""transfer":"slow-refused"}"#))
        }
    }

    @Test func anUnreachableBranchPastTheSagaDeadlineIsCancelledAndTheOthersCompensated() async throws {
        try await withDeployment(startsSettled: false) { deployment throws in
            try deployment.startSettled()
            deployment.banks[1].kill()
            let submitted = Task {
                try await submit(deployment, id: "unreachable", saga: true, sagaTimeout: .seconds(1))
            }
            // The saga gives up after 1 s; the cancel of bank-b's branch waits for bank-b.
            try await waitUntil {
                (try? await deployment.client { try await $0.get(id: "unreachable") })?.state == .compensating
            }
            try deployment.startBank(1, port: deployment.bankPorts[1])
            let transfer = try await submitted.value
            #expect(transfer.state == .compensated)
            #expect(
                try await barrier(deployment, bank: 1, transfer.branches[1].gid) == ["action", "cancelled"], "the late branch is cancelled"
            )
            #expect(try await deployment.postingCounts("unreachable") == [2, 0], "bank-a debited, then refunded; bank-b never ran")
            #expect(try await BankSchema.balance(deployment.pools[0], account: "a7") == Deployment.openingBalance)
            try await expectEveryInvariant(deployment)
        }
    }

    /// bank-a's refund always fails (fault injection): after its retry policy the transfer is
    /// STUCK — in the log, in `settle transfer list --state stuck`, and in /metrics; an operator's
    /// `settle transfer resolve` moves it on with a MANUAL record, and the audit passes.
    @Test func aCompensationThatAlwaysFailsIsStuckUntilAnOperatorResolvesIt() async throws {
        try await withDeployment(bankArguments: [["--fault-inject-fail", "refund"], slowCredit[1]], startsSettled: false) { deployment throws in
            try deployment.startSettled()
            // Two attempts for this transfer (the configuration says three).
            let transfer = try await submit(deployment, id: "stuck", saga: true, account: "nobody", compensationRetriesMax: 2)
            #expect(transfer.state == .stuck)
            #expect(transfer.reason.contains("the compensation of branch 0 keeps failing: 2 attempts"), "\(transfer.reason)")
            let listed = try run(
                "settle", ["transfer", "list", "--coordinator", "127.0.0.1:\(deployment.apiPort)", "--token", clientToken, "--state", "stuck"])
            #expect(listed.output.hasPrefix("stuck  stuck"), "\(listed.output)")
            #expect(try await deployment.metrics().contains(#"settle_transfers_total{outcome="stuck"} 1"#))
            #expect(try await !deployment.metrics().contains(#"settle_transfers_by_path_total{path="manual"}"#))
            #expect(try await deployment.preparedUnderPrefix().isEmpty, "nothing is left prepared: branch 0 committed, branch 1 cancelled")

            // The operator refunds by hand, then records the decision.
            let coordinator = ["--coordinator", "127.0.0.1:\(deployment.apiPort)", "--token", aliceToken]
            let early = try run("settle", ["transfer", "resolve"] + coordinator + ["e2e-none", "--outcome", "aborted", "--reason", "x"])
            #expect(early.status == 1, "unknown transfers cannot be resolved")
            #expect(early.errorOutput.contains("no transfer with id 'e2e-none'"), "\(early.errorOutput)")
            try await deployment.pools[0].query("UPDATE accounts SET balance = balance + 300 WHERE id = 'a7'")
            #expect(try await deployment.totalBalance() == deployment.expectedTotal)
            let resolved = try run(
                "settle",
                ["transfer", "resolve"] + coordinator + [
                    "stuck", "--outcome", "compensated", "--reason", "refund of 300 posted by hand",
                ])
            #expect(resolved.status == 0, "\(resolved.errorOutput)")
            #expect(resolved.output.hasPrefix("transfer stuck: compensated"), "\(resolved.output)")
            let again = try run(
                "settle",
                ["transfer", "resolve", "--coordinator", "127.0.0.1:\(deployment.apiPort)", "--token", bobToken]
                    + ["stuck", "--outcome", "committed", "--reason", "x"])
            #expect(again.status == 1)
            #expect(again.errorOutput.contains("is compensated (resolved by alice), not stuck"), "\(again.errorOutput)")
            let log = try await dump(deployment)
            #expect(hasRecord(log, "STUCK", #""reason":"the compensation of branch 0 keeps failing"#))
            #expect(
                hasRecord(log, "MANUAL", #""operator":"alice","outcome":"compensated","reason":"refund of 300 posted by hand","transfer":"stuck"}"#)
            )
            // After a restart the operator's decision stands.
            try deployment.startSettled()
            #expect(try await deployment.client { try await $0.get(id: "stuck") }.state == .compensated)
        }
    }

    /// Four-eyes: alice's resolution is only a sealed proposal (the transfer stays stuck, nothing
    /// else changes); alice cannot approve it herself, a client that is not an operator cannot
    /// either; bob's approval seals MANUAL naming both, and the proposal survives a restart.
    @Test func fourEyesResolutionNeedsASecondOperator() async throws {
        try await withDeployment(
            bankArguments: [["--fault-inject-fail", "refund"], slowCredit[1]], configuration: ["fourEyesResolution": true],
            startsSettled: false
        ) { deployment throws in
            try deployment.startSettled()
            let stuck = try await submit(deployment, id: "four-eyes", saga: true, account: "nobody", compensationRetriesMax: 2)
            #expect(stuck.state == .stuck)
            try await deployment.pools[0].query("UPDATE accounts SET balance = balance + 300 WHERE id = 'a7'")

            let proposed = try await deployment.client(token: aliceToken) {
                try await $0.resolve(id: "four-eyes", outcome: .compensated, reason: "refund of 300 posted by hand")
            }
            #expect(proposed.state == .stuck, "a proposal changes nothing yet")
            #expect(proposed.proposedResolution == "compensated proposed by alice")
            #expect(proposed.proposalOutcome == .compensated && proposed.proposalOperator == "alice")
            #expect(proposed.proposalReason == "refund of 300 posted by hand")
            let selfApproval = await #expect(throws: RPCError.self) {
                _ = try await deployment.client(token: aliceToken) { try await $0.approve(seen: proposed) }
            }
            #expect(selfApproval?.code == .permissionDenied, "\(String(describing: selfApproval))")
            let byAService = await #expect(throws: RPCError.self) {
                _ = try await deployment.client(token: paymentsToken) { try await $0.approve(seen: proposed) }
            }
            #expect(byAService?.code == .permissionDenied)
            let secondProposal = await #expect(throws: RPCError.self) {
                _ = try await deployment.client(token: bobToken) {
                    try await $0.resolve(id: "four-eyes", outcome: .committed, reason: "it did happen")
                }
            }
            #expect(secondProposal?.code == .failedPrecondition, "one proposal at a time")
            #expect(try await deployment.client { try await $0.get(id: "four-eyes") }.state == .stuck)

            // The proposal is sealed: it outlives a restart, and bob approves it afterwards.
            deployment.settled?.stop()
            try deployment.startSettled()
            #expect(try await deployment.client { try await $0.get(id: "four-eyes") }.proposedResolution == "compensated proposed by alice")
            // Bob refuses it; then alice proposes again and bob approves.
            let rejected = try await deployment.client(token: bobToken) { try await $0.reject(id: "four-eyes", reason: "check the refund first") }
            #expect(rejected.state == .stuck && rejected.proposedResolution.isEmpty)
            let approveNothing = await #expect(throws: RPCError.self) {
                _ = try await deployment.client(token: bobToken) { try await $0.approve(seen: proposed) }
            }
            #expect(approveNothing?.code == .failedPrecondition)
            // Alice proposes again, differently: bob's approval of what he saw before approves nothing.
            let replaced = try await deployment.client(token: aliceToken) {
                try await $0.resolve(id: "four-eyes", outcome: .aborted, reason: "it never happened")
            }
            let approveUnseen = await #expect(throws: RPCError.self) {
                _ = try await deployment.client(token: bobToken) { try await $0.approve(seen: proposed) }
            }
            #expect(approveUnseen?.code == .failedPrecondition && approveUnseen?.message.contains("aborted proposed by alice") == true)
            let approveBlind = await #expect(throws: RPCError.self) {
                _ = try await deployment.client(token: bobToken) {
                    try await $0.approve(seen: Settle_V1_Transfer.with { $0.transferID = "four-eyes" })
                }
            }
            #expect(approveBlind?.code == .invalidArgument, "an approval must name the proposal it approves")
            #expect(try await deployment.client { try await $0.get(id: "four-eyes") }.state == .stuck)
            _ = try await deployment.client(token: aliceToken) { try await $0.reject(id: "four-eyes", reason: "withdrawn") }
            #expect(replaced.proposalOutcome == .aborted)
            let reproposed = try await deployment.client(token: aliceToken) {
                try await $0.resolve(id: "four-eyes", outcome: .compensated, reason: "refund of 300 posted by hand")
            }
            #expect(reproposed.proposalReason == "refund of 300 posted by hand")
            // Bob approves with the CLI, which names the outcome he approves.
            let bob = ["--coordinator", "127.0.0.1:\(deployment.apiPort)", "--token", bobToken]
            let wrongOutcome = try run("settle", ["transfer", "approve"] + bob + ["four-eyes", "--outcome", "committed"])
            #expect(wrongOutcome.status != 0)
            #expect(wrongOutcome.errorOutput.contains("the proposal is compensated proposed by alice"), "\(wrongOutcome.errorOutput)")
            #expect(try await deployment.client { try await $0.get(id: "four-eyes") }.state == .stuck)
            let approval = try run("settle", ["transfer", "approve"] + bob + ["four-eyes", "--outcome", "compensated"])
            #expect(approval.status == 0, "\(approval.errorOutput)")
            #expect(approval.output.contains("approving compensated proposed by alice, because: refund of 300 posted by hand"), "\(approval.output)")
            let approved = try await deployment.client { try await $0.get(id: "four-eyes") }
            #expect(approved.state == .compensated && approved.path == "manual")
            #expect(approved.reason.contains("alice, approved by bob"), "\(approved.reason)")
            let log = try await dump(deployment)
            #expect(hasRecord(log, "PROPOSED", #""operator":"alice","outcome":"compensated""#))
            #expect(hasRecord(log, "MANUAL", #""approvedBy":"bob""#))
            #expect(hasRecord(log, "REJECTED", #""operator":"bob","reason":"check the refund first""#))
            #expect(hasRecord(log, "MANUAL", #""operator":"alice""#))
        }
    }

    /// settled killed with SIGKILL in the middle of a saga: after the restart it re-drives every
    /// branch from the sealed SAGA and the transfer still commits.
    @Test func aSagaSurvivesACoordinatorCrash() async throws {
        try await withDeployment(startsSettled: false) { deployment throws in
            try deployment.startSettled()
            let branches = [
                SettleClient.Branch(participant: "bank-a", action: "debit", payload: #"{"account":"a8","amount":120}"#, compensation: "refund"),
                SettleClient.Branch(
                    participant: "bank-b", action: "credit", payload: #"{"account":"b8","amount":120}"#, compensation: "reverse-credit"),
            ]
            // The credit waits on b8, locked here, so the saga is surely running when settled is
            // killed (ordered by the lock, not by a delay).
            try await deployment.pools[1].withConnection { blocker in
                try await blocker.query("BEGIN")
                try await blocker.query("SELECT 1 FROM accounts WHERE id = 'b8' FOR UPDATE")
                _ = try await deployment.client {
                    try await $0.submit(id: "saga-crash", branches: branches, prepareTimeout: .milliseconds(300), sagaFallback: true)
                }
                try await waitUntil(timeout: .seconds(30), "transfer in saga") {
                    try await deployment.client { try await $0.get(id: "saga-crash") }.state == .saga
                }
                deployment.settled?.kill()
                try deployment.startSettled()
                try await blocker.query("COMMIT")
            }
            try await waitUntil(timeout: .seconds(60), "transfer committed after restart") {
                try await deployment.client { try await $0.get(id: "saga-crash") }.state == .committed
            }
            #expect(try await deployment.postingCounts("saga-crash") == [1, 1])
            try await waitUntil(timeout: .seconds(30), "nothing prepared") { try await deployment.preparedUnderPrefix().isEmpty }
            #expect(try await deployment.totalBalance() == deployment.expectedTotal)
            // Once more from the log alone: the restored transfer still says how it ended.
            deployment.settled?.stop()
            try deployment.startSettled()
            let restored = try await deployment.client { try await $0.get(id: "saga-crash") }
            #expect(restored.state == .committed && restored.path == "saga", "\(restored.state) \(restored.path)")
            _ = try await dump(deployment)
        }
    }
}
