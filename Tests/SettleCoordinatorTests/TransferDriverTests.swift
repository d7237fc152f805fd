import Foundation
import Logging
import SettleCore
import SignedLog
import Synchronization
import Testing

@testable import SettleCoordinator

/// The real `TransferDriver` against in-memory participants and an in-memory log: no process,
/// no database, no network. Each test scripts what the participants answer and checks the records
/// sealed, the calls made and what the registry reports.
@Suite("transfer driver, in memory", .timeLimit(.minutes(1)))
struct TransferDriverTests {
    /// Participants that answer from a script and remember every call, in order.
    final class ScriptedParticipants: ParticipantCalling, Sendable {
        /// Per participant, the answers to its successive calls; the last one repeats. A
        /// participant not named answers prepared and committed.
        struct Script: Sendable {
            var prepares: [String: [PrepareAnswer]] = [:]
            var commits: [String: [CommitAnswer]] = [:]
            /// How long each of this participant's Prepares takes to answer.
            var prepareDelays: [String: Duration] = [:]
        }

        let script: Script
        let calls = Mutex<[String]>([])

        init(_ script: Script = Script()) { self.script = script }

        /// The answer to this participant's next `operation`, from `answers`.
        private func next<Answer>(_ operation: String, _ participant: String, _ answers: [Answer]?, otherwise: Answer) -> Answer {
            let index = calls.withLock { calls in
                defer { calls.append("\(operation) \(participant)") }
                return calls.filter { $0 == "\(operation) \(participant)" }.count
            }
            guard let answers, !answers.isEmpty else { return otherwise }
            return answers[min(index, answers.count - 1)]
        }

        func prepare(
            _ participant: String, gid: String, action: String, payload: Data, acceptedLSN: UInt64, timeout: Duration?
        ) async throws -> PrepareAnswer {
            if let delay = script.prepareDelays[participant] { try await Task.sleep(for: delay) }
            return next("prepare", participant, script.prepares[participant], otherwise: .prepared)
        }

        /// Each phase-two command with the decision LSN it would be signed over.
        let orders = Mutex<[String]>([])

        func commit(_ participant: String, gid: String, decisionLSN: UInt64) async throws -> CommitAnswer {
            orders.withLock { $0.append("commit \(participant) @\(decisionLSN)") }
            return next("commit", participant, script.commits[participant], otherwise: .committed)
        }

        func rollback(_ participant: String, gid: String, decisionLSN: UInt64) async throws -> RollbackAnswer {
            orders.withLock { $0.append("rollback \(participant) @\(decisionLSN)") }
            calls.withLock { $0.append("rollback \(participant)") }
            return .rolledBack
        }

        func compensate(
            _ participant: String, gid: String, compensation: String, payload: Data, decisionLSN: UInt64
        ) async throws
            -> TransferDriver.Attempt<CompensateAnswer>
        {
            orders.withLock { $0.append("compensate \(participant) @\(decisionLSN)") }
            calls.withLock { $0.append("compensate \(participant)") }
            return .failed("refused: the account is closed")
        }
    }

    /// Seals into memory at once, noting each record among the participants' calls so their
    /// order shows.
    final class NotingLog: RecordLog, Sendable {
        let memory = MemoryRecordLog(sealsAtOnce: true)
        let participants: ScriptedParticipants
        init(_ participants: ScriptedParticipants) { self.participants = participants }

        var directory: String { memory.directory }

        func enqueue(_ entries: [LogEntry], completion: @escaping @Sendable (Result<[LSN], any Error>) -> Void) -> LSN? {
            for entry in entries {
                let record = LogRecord(
                    lsn: 0, type: entry.type, appendedAtNanoseconds: 0, payload: entry.payload, chainHash: SHA256Digest(hashing: [UInt8]())
                )
                let kind = (try? CoordinatorRecord(record))??.kind ?? "?"
                participants.calls.withLock { $0.append("sealed \(kind)") }
            }
            return memory.enqueue(entries, completion: completion)
        }

        /// What the driver sealed, after the ACCEPTED record (LSN 1) that admitted the transfer.
        var records: [CoordinatorRecord] { memory.sealedRecords.dropFirst().compactMap { try? CoordinatorRecord($0) } }
    }

    static let spec = TransferSpec(
        id: "t1",
        branches: ["bank-a", "bank-b"].map {
            TransferSpec.Branch(participant: $0, action: "move", payload: Data(#"{"amount":1}"#.utf8), compensation: "undo")
        },
        policy: .init(compensationRetriesMax: 2)
    )

    /// Drives `spec` to its end and returns what was sealed, the calls and the table's entry.
    static func drive(
        _ participants: ScriptedParticipants, spec: TransferSpec = spec, onPrepareTimeout: TransferSpec.OnPrepareTimeout = .abort,
        prepareTimeout: Duration = .seconds(30)
    ) async throws -> (records: [CoordinatorRecord], calls: [String], entry: TransferEntry?) {
        let log = NotingLog(participants)
        let registry = TransferRegistry(log: log, inFlightMax: 10, rememberedMax: 10)
        let admission = Admission.random()
        let accepted = CoordinatorRecord.accepted(spec, admission: admission, submittedAtMilliseconds: 0)
        _ = await registry.admit(accepted, encoded: accepted.entry(), logger: Logger(label: "test"))
        participants.calls.withLock { $0.removeAll() }
        var driver = TransferDriver(
            coordinatorID: "memory", participants: participants, registry: registry,
            retry: RetryPolicy(initial: .milliseconds(1), maximum: .milliseconds(2)), compensationRetriesMax: 2,
            metrics: CoordinatorMetrics(), crashPoints: CrashPoints(environment: [:]), abortRequests: AbortRequests(),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        driver.wallMilliseconds = { wallMilliseconds }
        var transfer = TransferProtocol(branchCount: spec.branches.count, onPrepareTimeout: onPrepareTimeout)
        let first = try transfer.start()
        await driver.drive(
            DriverStart(
                spec: spec, admission: admission, transfer: transfer, firstActions: first, prepareTimeout: prepareTimeout,
                sagaTimeout: .seconds(30)
            )
        )
        return (log.records, participants.calls.withLock { $0 }, registry.entry(spec.id))
    }

    /// The driver's wall clock: what a SAGA's sealed deadline is counted from.
    static let wallMilliseconds: Int64 = 1_800_000_000_000

    /// The deadline is sealed, so that a restart resumes it rather than a fresh one
    /// (`SagaDeadlineRecoveryTests`).
    @Test func aSagaSealsItsDeadline() async throws {
        let slowBankB = ScriptedParticipants(.init(prepareDelays: ["bank-b": .milliseconds(300)]))
        let (records, _, entry) = try await Self.drive(slowBankB, onPrepareTimeout: .saga, prepareTimeout: .milliseconds(50))
        #expect(records.map(\.kind) == ["SAGA", "END"])
        #expect(records.first == .saga(transferID: "t1", deadlineAtMilliseconds: Self.wallMilliseconds + 30_000))
        #expect(entry?.status == .committed)
    }

    @Test func aTransferCommitsWithCommitSealedBeforeAnyCommitIsSent() async throws {
        let (records, calls, entry) = try await Self.drive(ScriptedParticipants())
        #expect(records.map(\.kind) == ["COMMIT", "END"])
        #expect(Set(calls.prefix(2)) == ["prepare bank-a", "prepare bank-b"])
        #expect(calls[2] == "sealed COMMIT", "\(calls)")
        #expect(Set(calls[3...4]) == ["commit bank-a", "commit bank-b"])
        #expect(calls.last == "sealed END")
        #expect(entry?.status == .committed)
    }

    /// Every phase-two command names the sealed record that ordered it (what it is signed over):
    /// COMMIT for commits and their re-drives, ABORT for rollbacks, COMPENSATE for compensations.
    @Test func everyPhaseTwoCommandNamesTheLSNOfTheDecisionThatOrderedIt() async throws {
        let committed = ScriptedParticipants(.init(commits: ["bank-a": [.heuristicRollback, .committed]]))
        _ = try await Self.drive(committed)
        #expect(Set(committed.orders.withLock { $0 }) == ["commit bank-a @2", "commit bank-b @2"], "ACCEPTED is LSN 1, COMMIT 2, HEURISTIC 3")

        let aborted = ScriptedParticipants(.init(prepares: ["bank-b": [.refused(reason: "no funds")]]))
        _ = try await Self.drive(aborted)
        #expect(Set(aborted.orders.withLock { $0 }) == ["rollback bank-a @2", "rollback bank-b @2"])

        let compensated = ScriptedParticipants(
            .init(prepares: ["bank-a": [.prepared, .refused(reason: "drained")]], commits: ["bank-a": [.heuristicRollback]])
        )
        let (records, _, _) = try await Self.drive(compensated)
        let compensateLSN = (records.firstIndex { $0.kind == "COMPENSATE" } ?? -2) + 2
        #expect(
            compensated.orders.withLock { $0.filter { $0.hasPrefix("compensate") } }
                == Array(repeating: "compensate bank-b @\(compensateLSN)", count: 2))
        #expect(compensated.orders.withLock { $0.filter { $0.hasPrefix("commit") } }.allSatisfy { $0.hasSuffix("@2") })
    }

    @Test func aRefusalAbortsAndRollsBackEveryBranch() async throws {
        let (records, calls, entry) = try await Self.drive(ScriptedParticipants(.init(prepares: ["bank-b": [.refused(reason: "no funds")]])))
        #expect(records.map(\.kind) == ["ABORT", "END"])
        #expect(Set(calls.filter { $0.hasPrefix("rollback") }) == ["rollback bank-a", "rollback bank-b"])
        #expect(!calls.contains { $0.hasPrefix("commit") })
        #expect(entry?.status == .aborted)
        #expect(entry?.reason.contains("no funds") == true)
    }

    @Test func aBranchRolledBackAfterCommitIsPreparedAgainAndCommitted() async throws {
        let (records, calls, entry) = try await Self.drive(ScriptedParticipants(.init(commits: ["bank-a": [.heuristicRollback, .committed]])))
        #expect(records.map(\.kind) == ["COMMIT", "HEURISTIC", "END"])
        #expect(calls.filter { $0 == "prepare bank-a" }.count == 2, "\(calls)")
        #expect(entry?.status == .committed)
    }

    /// bank-a is rolled back after COMMIT and refuses its re-drive: only compensation undoes the
    /// transfer, and bank-b's compensation keeps being refused, so the transfer ends stuck.
    @Test func aCompensationThatKeepsFailingLeavesTheTransferStuck() async throws {
        let participants = ScriptedParticipants(
            .init(prepares: ["bank-a": [.prepared, .refused(reason: "drained")]], commits: ["bank-a": [.heuristicRollback]])
        )
        let (records, calls, entry) = try await Self.drive(participants)
        #expect(records.map(\.kind) == ["COMMIT", "HEURISTIC", "HEURISTIC", "COMPENSATE", "STUCK"])
        #expect(calls.filter { $0 == "compensate bank-b" }.count == 2, "the transfer's two attempts: \(calls)")
        #expect(!calls.contains("compensate bank-a"), "bank-a never committed")
        #expect(entry?.status == .stuck)
    }
}
