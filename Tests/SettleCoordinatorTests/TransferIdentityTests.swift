import ExampleBank
import Foundation
import GRPCCore
import SettleClient
import SettleCore
import SettleProtocol
import SettleTestSupport
import Testing

/// Issue "A transfer can never be confused with another, and no client input can stop settled":
/// each test reproduces one way the first wave failed, against real processes and PostgreSQL.
@Suite("a transfer can never be confused with another, and no client input stops settled", .timeLimit(.minutes(3)))
struct TransferIdentityTests {
    static let slowCredit = ["--fault-inject-delay", "credit=1500"]

    /// The first wave reused gids: the second admission of a forgotten id found the first one's
    /// barrier row, was answered PREPARED without running, and was reported COMMITTED having
    /// moved nothing.
    @Test func aForgottenIDSubmittedAgainMovesExactlyItsNewAmount() async throws {
        try await withDeployment(configuration: ["rememberedTransfersMax": 2]) { deployment throws in
            let first = try await deployment.client {
                try await $0.submit(id: "t-1", branches: Deployment.branches(amount: 100, fromA: true, account: 1), wait: true)
            }
            #expect(first.state == .committed)
            for index in 0..<4 {
                let filler = try await deployment.client {
                    try await $0.submit(id: "fill-\(index)", branches: Deployment.branches(amount: 1, fromA: true, account: 2), wait: true)
                }
                #expect(filler.state == .committed)
            }
            let notFound = await #expect(throws: RPCError.self) { _ = try await deployment.client { try await $0.get(id: "t-1") } }
            #expect(notFound?.code == .notFound, "the first t-1 is forgotten")

            let second = try await deployment.client {
                try await $0.submit(id: "t-1", branches: Deployment.branches(amount: 250, fromA: true, account: 1), wait: true)
            }
            #expect(second.state == .committed)
            #expect(Set(second.branches.map(\.gid)).isDisjoint(with: first.branches.map(\.gid)), "a new admission, new gids")
            #expect(try await BankSchema.balance(deployment.pools[0], account: "a1") == Deployment.openingBalance - 350)
            #expect(try await BankSchema.balance(deployment.pools[1], account: "b1") == Deployment.openingBalance + 350)
            for (bank, signed) in [(0, Int64(-250)), (1, Int64(250))] {
                let amounts = try await deployment.pools[bank].query("SELECT amount FROM postings WHERE gid = $1", [second.branches[bank].gid])
                    .map { try $0.decode(Int64.self, column: "amount") }
                #expect(amounts == [signed], "bank \(bank) posted the second admission's own amount")
            }
            #expect(try await deployment.postingCounts("t-1") == [2, 2])
            try await expectEveryInvariant(deployment)
        }
    }

    /// A resubmission of a forgotten id that is refused must not touch the first admission's
    /// branches: the first wave answered its Rollback ALREADY_COMMITTED and compensated the old
    /// transfer with the new payload.
    @Test func aForgottenIDSubmittedAgainAndRefusedLeavesTheFirstTransferAlone() async throws {
        try await withDeployment(configuration: ["rememberedTransfersMax": 1]) { deployment throws in
            let first = try await deployment.client {
                try await $0.submit(id: "t-2", branches: Deployment.branches(amount: 70, fromA: true, account: 3), wait: true)
            }
            #expect(first.state == .committed)
            for index in 0..<3 {
                _ = try await deployment.client {
                    try await $0.submit(id: "fill-\(index)", branches: Deployment.branches(amount: 1, fromA: true, account: 2), wait: true)
                }
            }
            let refused = try await deployment.client {
                try await $0.submit(id: "t-2", branches: Deployment.branches(amount: 999_999, fromA: true, account: 3), wait: true)
            }
            #expect(refused.state == .aborted)
            #expect(refused.reason.contains("insufficient funds"), "\(refused.reason)")
            #expect(try await BankSchema.balance(deployment.pools[0], account: "a3") == Deployment.openingBalance - 70)
            #expect(try await BankSchema.balance(deployment.pools[1], account: "b3") == Deployment.openingBalance + 70)
            #expect(try await deployment.postingCounts("t-2") == [1, 1], "only the first admission posted, and nothing undid it")
            try await expectEveryInvariant(deployment)
        }
    }

    /// The first wave checked payloads only as UTF-8: control characters, six bytes each once
    /// escaped in the ACCEPTED record, took it over the log's record limit, and settled stopped.
    @Test func anOversizedOrMalformedSubmitIsRefusedAndSettledKeepsServing() async throws {
        try await withDeployment { deployment throws in
            let control = String(repeating: "\u{1}", count: 60_000)
            let raw = (0..<32).map { index in
                SettleClient.Branch(
                    participant: "bank-a", action: "credit", payload: #"{"account":"a1","note":"\#(control)"}"#,
                    compensation: "reverse-credit", compensationPayload: #"{"account":"a1","note":"\#(control)"}"#
                )
            }
            let malformed = await #expect(throws: RPCError.self) {
                _ = try await deployment.client { try await $0.submit(id: "huge-1", branches: raw) }
            }
            #expect(malformed?.code == .invalidArgument)
            #expect(malformed?.message.contains("JSON object") == true, "\(malformed?.message ?? "")")

            // Valid JSON that doubles when escaped: 32 branches of 64 KB of backslashes.
            let backslashes = String(repeating: #"\\"#, count: 32_000)
            let doubling = (0..<32).map { _ in
                SettleClient.Branch(participant: "bank-a", action: "credit", payload: #"{"account":"a1","note":"\#(backslashes)"}"#)
            }
            let oversized = await #expect(throws: RPCError.self) {
                _ = try await deployment.client { try await $0.submit(id: "huge-2", branches: doubling) }
            }
            #expect(oversized?.code == .invalidArgument)
            #expect(oversized?.message.contains("acceptedRecordBytesMax") == true, "\(oversized?.message ?? "")")

            #expect(deployment.settled?.isRunning == true)
            let after = try await deployment.client {
                try await $0.submit(id: "after", branches: Deployment.branches(amount: 5, fromA: true, account: 4), wait: true)
            }
            #expect(after.state == .committed)
            let unknown = await #expect(throws: RPCError.self) { _ = try await deployment.client { try await $0.get(id: "huge-1") } }
            #expect(unknown?.code == .notFound, "nothing was admitted")
            try await expectEveryInvariant(deployment)
        }
    }

    /// A stuck transfer waits for an operator however many transfers finish after it; two
    /// operators resolving it at once seal exactly one MANUAL decision.
    @Test func aStuckTransferIsNeverForgottenAndIsResolvedExactlyOnce() async throws {
        try await withDeployment(
            bankArguments: [["--fault-inject-fail", "refund"], Self.slowCredit], configuration: ["rememberedTransfersMax": 2]
        ) { deployment throws in
            let stuck = try await submitSlowSaga(deployment, id: "stuck-1", debitAccount: "a7", creditAccount: "nobody")
            #expect(stuck.state == .stuck)
            for index in 0..<4 {
                let filler = try await deployment.client {
                    try await $0.submit(id: "fill-\(index)", branches: Deployment.branches(amount: 1, fromA: false, account: 2), wait: true)
                }
                #expect(filler.state == .committed)
            }
            let listed = try await deployment.client { try await $0.list(states: [.stuck]) }
            #expect(listed.transfers.map(\.transferID) == ["stuck-1"], "still listed after more transfers than are remembered")
            let conflicting = await #expect(throws: RPCError.self) {
                _ = try await deployment.client {
                    try await $0.submit(id: "stuck-1", branches: Deployment.branches(amount: 9, fromA: true, account: 5))
                }
            }
            #expect(conflicting?.code == .alreadyExists, "a stuck id is never admitted again")

            try await deployment.pools[0].query("UPDATE accounts SET balance = balance + 300 WHERE id = 'a7'")
            let outcomes: [Settle_V1_TransferState] = [.compensated, .committed, .aborted, .compensated]
            let answers = try await withThrowingTaskGroup(of: Result<Settle_V1_Transfer, RPCError>.self) { group in
                for (index, outcome) in outcomes.enumerated() {
                    group.addTask {
                        do {
                            return .success(
                                try await deployment.client(token: index % 2 == 0 ? aliceToken : bobToken) {
                                    try await $0.resolve(id: "stuck-1", outcome: outcome, reason: "refunded by hand")
                                })
                        } catch let error as RPCError {
                            return .failure(error)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let winners = answers.compactMap { try? $0.get() }
            let losers = answers.compactMap { answer -> RPCError? in
                if case .failure(let error) = answer { return error }
                return nil
            }
            #expect(winners.count == 1, "exactly one Resolve seals MANUAL")
            #expect(losers.count == outcomes.count - 1)
            let winner = try #require(winners.first)
            for loser in losers {
                #expect(loser.code == .failedPrecondition)
                #expect(
                    (loser.message.contains("alice") || loser.message.contains("bob")) && loser.message.contains("stuck-1"),
                    "names the first decision: \(loser.message)"
                )
            }
            deployment.settled?.stop()
            let dump = try run("settle", ["audit", "dump", "--log", deployment.logDirectory]).output
            #expect(dump.split(separator: "\n").filter { $0.contains("MANUAL  {") }.count == 1)
            try deployment.startSettled()
            let replayed = try await deployment.client { try await $0.get(id: "stuck-1") }
            #expect(replayed == winner, "the log replays the decision that was reported")
        }
    }

    /// A participant that accepts connections and never answers (SIGSTOP: the kernel still
    /// accepts) must not hold a compensation for ever: each call has a deadline, a timed-out call
    /// is a failed attempt, and the transfer reaches STUCK. The order is forced, not timed: the
    /// credit at bank-b waits on a row this test holds, so bank-a is surely stopped before the
    /// credit is refused and the compensation starts.
    @Test func aCompensationAgainstAHungParticipantReachesStuck() async throws {
        try await withDeployment(
            configuration: ["participantCallTimeoutMilliseconds": 500, "compensationRetriesMax": 2]
        ) { deployment throws in
            let stuck = try await deployment.pools[1].withConnection { blocker in
                try await blocker.query("BEGIN")
                // The credit's UPDATE waits for this row, then finds it gone: a refusal.
                try await blocker.query("UPDATE accounts SET id = 'b5-moved' WHERE id = 'b5'")
                let submitted = Task { try await submitSlowSaga(deployment, id: "hung-1", debitAccount: "a6", creditAccount: "b5") }
                // The credit waits on the row (re-driven if its lock wait times out) for as long as
                // this takes.
                try await waitUntil(timeout: .seconds(60), "bank-a's debit committed by the saga") {
                    // NOT_FOUND until the submission above is admitted.
                    let transfer = try? await deployment.client { try await $0.get(id: "hung-1") }
                    return transfer?.state == .saga && transfer?.branches.first?.state == "committed"
                }
                deployment.banks[0].send(SIGSTOP)
                try await blocker.query("COMMIT")
                return try await submitted.value
            }
            #expect(stuck.state == .stuck, "\(stuck.state): \(stuck.reason)")
            #expect(stuck.reason.contains("keeps failing: 2 attempts") && stuck.reason.contains("deadline"), "\(stuck.reason)")
            // The operator puts things right. bank-a never read the compensation calls queued in
            // its socket (it was stopped before the first): killed now, they die with it, so the
            // refund is the operator's to post.
            #expect(
                try await deployment.pools[0].query(
                    "SELECT 1 FROM settle_barrier WHERE gid = $1 AND op = 'compensation'", [stuck.branches[0].gid]
                ).isEmpty)
            deployment.banks[0].kill()
            try deployment.startBank(0, port: deployment.bankPorts[0])
            try await deployment.pools[1].query("UPDATE accounts SET id = 'b5' WHERE id = 'b5-moved'")
            try await deployment.pools[0].query("UPDATE accounts SET balance = balance + 300 WHERE id = 'a6'")
            _ = try await deployment.client(token: aliceToken) {
                try await $0.resolve(id: "hung-1", outcome: .compensated, reason: "refunded by hand")
            }
            try await expectEveryInvariant(deployment)
        }
    }

    /// The sweep asks every participant concurrently, each call bounded: an orphan at bank-b is
    /// rolled back while bank-a hangs.
    @Test func theSweepRollsBackAnOrphanWhileAnotherParticipantHangs() async throws {
        try await withDeployment(
            configuration: ["participantCallTimeoutMilliseconds": 500, "sweepIntervalMilliseconds": 200]
        ) { deployment throws in
            deployment.banks[0].send(SIGSTOP)
            defer { deployment.banks[0].send(SIGCONT) }
            let orphan = "settle:\(deployment.coordinatorID):1:00000000000000ff:orphan:1"
            _ = try await deployment.pools[1].withConnection { connection in
                try await connection.withPreparedTransaction(gid: orphan) { transaction in
                    try await transaction.query("INSERT INTO settle_barrier (gid, op) VALUES ($1, 'action')", [orphan])
                }
            }
            try await waitUntil(timeout: .seconds(10), "the orphan is rolled back") {
                try await deployment.preparedUnderPrefix().isEmpty
            }
            // The 'cancelled' row proves the sweep's Rollback reached bank-b (a DBA's ROLLBACK
            // PREPARED would leave no row at all); it is written just after ROLLBACK PREPARED.
            try await waitUntil(timeout: .seconds(10), "the orphan cancelled for good through the participant") {
                try await deployment.pools[1].query("SELECT op FROM settle_barrier WHERE gid = $1 ORDER BY op", [orphan])
                    .map { try $0.decode(String.self, column: "op") } == ["action", "cancelled"]
            }
        }
    }

    /// Every field of a finished transfer is what it was before a restart, for every kind of
    /// ending: the facts are sealed with the record that ends it.
    @Test func aRestartReportsEveryFinishedTransferExactlyAsBefore() async throws {
        try await withDeployment(bankArguments: [["--fault-inject-fail", "refund"], Self.slowCredit]) { deployment throws in
            var ids: [String] = []
            func submit(_ id: String, _ branches: [SettleClient.Branch], saga: Bool = false) async throws -> Settle_V1_Transfer {
                ids.append(id)
                return try await deployment.client {
                    try await $0.submit(
                        id: id, branches: branches, prepareTimeout: saga ? .milliseconds(400) : nil, sagaFallback: saga, wait: true
                    )
                }
            }
            let credit = { (account: String) in
                SettleClient.Branch(
                    participant: "bank-b", action: "credit", payload: #"{"account":"\#(account)","amount":30}"#, compensation: "reverse-credit")
            }
            let twoPhase = try await submit("end-2pc", Deployment.branches(amount: 30, fromA: false, account: 1))
            let aborted = try await submit("end-aborted", Deployment.branches(amount: 999_999, fromA: false, account: 1))
            let sagaDebit = SettleClient.Branch(
                participant: "bank-a", action: "debit", payload: #"{"account":"a2","amount":30}"#, compensation: "refund")
            let saga = try await submit("end-saga", [sagaDebit, credit("b2")], saga: true)
            let creditA = SettleClient.Branch(
                participant: "bank-a", action: "credit", payload: #"{"account":"a3","amount":30}"#, compensation: "reverse-credit")
            let compensated = try await submit("end-compensated", [creditA, credit("nobody")], saga: true)
            let stuckDebit = SettleClient.Branch(
                participant: "bank-a", action: "debit", payload: #"{"account":"a4","amount":30}"#, compensation: "refund")
            let stuck = try await submit("end-stuck", [stuckDebit, credit("nobody")], saga: true)
            let toResolve = try await submit("end-resolved", [stuckDebit, credit("nobody")], saga: true)
            #expect(
                [twoPhase, aborted, saga, compensated, stuck, toResolve].map(\.path) == ["2pc", "2pc", "saga", "compensated", "saga", "saga"]
            )
            #expect([twoPhase, aborted, saga, compensated, stuck].map(\.state) == [.committed, .aborted, .committed, .compensated, .stuck])
            _ = try await deployment.client(token: aliceToken) {
                try await $0.resolve(id: "end-resolved", outcome: .compensated, reason: "refunded by hand")
            }
            try await deployment.pools[0].query("UPDATE accounts SET balance = balance + 60 WHERE id = 'a4'")
            var before: [String: Settle_V1_Transfer] = [:]
            for id in ids { before[id] = try await deployment.client { try await $0.get(id: id) } }
            #expect(before["end-resolved"]?.path == "manual" && before["end-resolved"]?.reason.contains("alice") == true)

            deployment.settled?.stop()
            try deployment.startSettled()
            for id in ids {
                let after = try await deployment.client { try await $0.get(id: id) }
                #expect(after == before[id], "\(id) after the restart: \(after)")
            }
            try await expectEveryInvariant(deployment)
        }
    }

    private func submitSlowSaga(
        _ deployment: Deployment, id: String, debitAccount: String, creditAccount: String
    ) async throws -> Settle_V1_Transfer {
        let branches = [
            SettleClient.Branch(
                participant: "bank-a", action: "debit", payload: #"{"account":"\#(debitAccount)","amount":300}"#, compensation: "refund"),
            SettleClient.Branch(
                participant: "bank-b", action: "credit", payload: #"{"account":"\#(creditAccount)","amount":300}"#, compensation: "reverse-credit"
            ),
        ]
        return try await deployment.client {
            try await $0.submit(
                id: id, branches: branches, prepareTimeout: .milliseconds(400), sagaFallback: true, sagaTimeout: .seconds(20),
                compensationRetriesMax: 2, wait: true, timeout: .seconds(90)
            )
        }
    }
}
