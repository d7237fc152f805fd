import Foundation
import Logging
import SettleCore
import SettleTestSupport
import SignedLog
import Synchronization
import Testing

@testable import SettleCoordinator

/// The registry in memory: admission, the one eviction rule, waiters, resolution claims, and that
/// only records write what it reports.
@Suite("transfer registry: idempotency, capacity, paging, memory bound, resolution")
struct TransferRegistryTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func spec(_ id: String, amount: Int = 1) -> TransferSpec {
        TransferSpec(id: id, branches: [.init(participant: "bank-a", action: "debit", payload: Data("\(amount)".utf8))])
    }

    static func registry(inFlightMax: Int = 100, rememberedMax: Int = 100, unfinishedRecordBytesMax: Int? = nil) -> TransferRegistry {
        TransferRegistry(
            log: MemoryRecordLog(sealsAtOnce: true), inFlightMax: inFlightMax, rememberedMax: rememberedMax,
            unfinishedRecordBytesMax: unfinishedRecordBytesMax
        )
    }

    static func accepted(_ spec: TransferSpec, at time: Int64) -> CoordinatorRecord {
        .accepted(spec, admission: Admission.random(), submittedAtMilliseconds: time, submittedBy: "payments")
    }

    @discardableResult
    static func admit(_ registry: TransferRegistry, _ spec: TransferSpec, at time: Int64) async -> TransferRegistry.AdmitResult {
        let record = accepted(spec, at: time)
        return await registry.admit(record, encoded: record.entry(), logger: logger)
    }

    /// Seals the ending `status` (END, or STUCK) with the facts a driver would give it.
    static func finish(_ registry: TransferRegistry, _ id: String, _ status: TransferStatus, at time: Int64) async {
        let admission = registry.entry(id)?.admission
        let facts = FinalFacts(
            status: status, path: "2pc", reason: status == .stuck ? "refund keeps failing" : "", finishedAtMilliseconds: time,
            branchStates: [status.rawValue], admission: admission
        )
        let record: CoordinatorRecord =
            switch status {
            case .committed: .end(transferID: id, outcome: .committed, facts: facts)
            case .aborted: .end(transferID: id, outcome: .aborted, facts: facts)
            case .compensated: .end(transferID: id, outcome: .compensated, facts: facts)
            default: .stuck(transferID: id, reason: facts.reason, facts: facts)
            }
        await registry.appendOrStop(record, logger: logger)
    }

    static func resolve(_ registry: TransferRegistry, _ id: String, as outcome: TransferStatus, by who: String) async {
        await registry.appendOrStop(
            .manual(transferID: id, outcome: outcome, reason: "r", operator: who, finishedAtMilliseconds: 20), logger: logger
        )
    }

    @Test func admissionIsIdempotentAndBounded() async {
        let registry = Self.registry(inFlightMax: 2)
        guard case .admitted = await Self.admit(registry, Self.spec("a"), at: 1) else { Issue.record("a"); return }
        guard case .existing = await Self.admit(registry, Self.spec("a"), at: 2) else { Issue.record("same body"); return }
        guard case .conflict(_, let message) = await Self.admit(registry, Self.spec("a", amount: 2), at: 3) else {
            Issue.record("different body")
            return
        }
        #expect(message.contains("different branch 0"))
        guard case .admitted = await Self.admit(registry, Self.spec("b"), at: 4) else { Issue.record("b"); return }
        guard case .full = await Self.admit(registry, Self.spec("c"), at: 5) else { Issue.record("capacity"); return }
        await Self.finish(registry, "a", .committed, at: 6)
        guard case .admitted = await Self.admit(registry, Self.spec("c"), at: 7) else { Issue.record("freed"); return }
        #expect(registry.inFlightCount == 2)
    }

    @Test func listingPagesNewestFirstWithoutGapsOrRepeats() async {
        let registry = Self.registry()
        for index in 0..<25 { await Self.admit(registry, Self.spec("t\(index)"), at: Int64(1000 + index / 2)) }
        for index in stride(from: 0, to: 25, by: 3) { await Self.finish(registry, "t\(index)", .aborted, at: 2000) }
        var seen: [String] = []
        var token: String?
        repeat {
            let page = registry.list(statuses: [], fromMilliseconds: nil, toMilliseconds: nil, pageSize: 4, after: token)
            #expect(page.entries.count <= 4)
            seen += page.entries.map(\.spec.id)
            token = page.nextToken
        } while token != nil
        #expect(seen.count == 25 && Set(seen).count == 25)
        let times = seen.compactMap { registry.entry($0)?.submittedAtMilliseconds }
        #expect(times == times.sorted(by: >))
        let aborted = registry.list(statuses: [.aborted], fromMilliseconds: nil, toMilliseconds: nil, pageSize: 100, after: nil)
        #expect(Set(aborted.entries.map(\.spec.id)) == Set(stride(from: 0, to: 25, by: 3).map { "t\($0)" }))
        let window = registry.list(statuses: [], fromMilliseconds: 1002, toMilliseconds: 1004, pageSize: 100, after: nil)
        #expect(Set(window.entries.map(\.spec.id)) == ["t4", "t5", "t6", "t7"])
    }

    @Test func finishedTransfersBeyondTheBoundAreForgottenOldestFirst() async {
        let registry = Self.registry(rememberedMax: 3)
        for index in 0..<5 {
            await Self.admit(registry, Self.spec("t\(index)"), at: Int64(index))
            await Self.finish(registry, "t\(index)", .committed, at: Int64(index))
        }
        #expect(registry.entry("t0") == nil && registry.entry("t1") == nil)
        #expect(registry.entry("t2") != nil && registry.entry("t4") != nil)
    }

    @Test(.timeLimit(.minutes(1))) func waitersWakeWhenTheFinalRecordIsApplied() async {
        let registry = Self.registry()
        await Self.admit(registry, Self.spec("w"), at: 1)
        async let waited: Void = registry.waitUntilFinal("w")
        // Finish only once the waiter is suspended: finishing first would test nothing.
        while registry.waiterCount("w") == 0 { await Task.yield() }
        await Self.finish(registry, "w", .committed, at: 2)
        await waited
        #expect(registry.entry("w")?.status == .committed)
        #expect(registry.waiterCount("w") == 0)
    }

    /// The driver's reports are live fields: they show while the transfer runs, and the final
    /// record's sealed facts replace them.
    @Test func liveProgressShowsUntilTheFinalRecordSaysOtherwise() async {
        let registry = Self.registry()
        await Self.admit(registry, Self.spec("p"), at: 1)
        registry.updateLive("p") {
            $0.status = .committing
            $0.branchStates = ["prepared"]
        }
        #expect(registry.entry("p")?.status == .committing && registry.entry("p")?.branchStates == ["prepared"])
        await Self.finish(registry, "p", .committed, at: 2)
        registry.updateLive("p") { $0.status = .aborting }
        #expect(registry.entry("p")?.status == .committed, "a final transfer takes no live report")
        #expect(registry.entry("p")?.branchStates == ["committed"] && registry.entry("p")?.finishedAtMilliseconds == 2)
    }

    @Test func aStuckTransferIsNeverForgottenUntilResolved() async {
        let registry = Self.registry(rememberedMax: 2)
        await Self.admit(registry, Self.spec("stuck"), at: 0)
        await Self.finish(registry, "stuck", .stuck, at: 1)
        for index in 0..<10 {
            await Self.admit(registry, Self.spec("t\(index)"), at: Int64(index + 2))
            await Self.finish(registry, "t\(index)", .committed, at: Int64(index + 2))
        }
        #expect(registry.entry("stuck")?.status == .stuck, "ten later transfers finished; the stuck one is still there")
        let proposal = ResolutionProposal(outcome: .compensated, reason: "r", operator: "alice")
        guard case .claimed(let claimed) = registry.claimResolution("stuck", proposal, approving: false) else {
            Issue.record("claim")
            return
        }
        await Self.resolve(registry, "stuck", as: .compensated, by: "alice")
        let resolved = registry.entry("stuck")
        #expect(resolved?.status == .compensated && resolved?.resolvedBy == "alice" && claimed.status == .stuck)
        #expect(resolved?.pendingResolution == nil && resolved?.finalPath == "manual" && resolved?.branchStates == ["stuck"])
        // Kept until its participant is swept clean of its branches (ResolvedTransferPinTests).
        registry.sweptClean(at: "bank-a", preparedTransferIDs: [], sweepToken: registry.sweepStarted())
        for index in 10..<13 {
            await Self.admit(registry, Self.spec("t\(index)"), at: Int64(index + 20))
            await Self.finish(registry, "t\(index)", .committed, at: Int64(index + 20))
        }
        #expect(registry.entry("stuck") == nil, "once resolved it is forgotten like any finished transfer")
    }

    @Test func onlyTheFirstOfTwoResolutionsClaimsAStuckTransfer() async {
        let registry = Self.registry()
        await Self.admit(registry, Self.spec("s"), at: 0)
        func claim(_ outcome: TransferStatus, by who: String) -> TransferRegistry.ResolutionClaim {
            registry.claimResolution("s", ResolutionProposal(outcome: outcome, reason: "r", operator: who), approving: false)
        }
        guard case .refused(let notStuck) = claim(.committed, by: "bob") else {
            Issue.record("an unfinished transfer cannot be resolved")
            return
        }
        #expect(notStuck.contains("is preparing"))
        await Self.finish(registry, "s", .stuck, at: 1)
        guard case .claimed = claim(.committed, by: "alice") else { Issue.record("first"); return }
        guard case .refused(let second) = claim(.aborted, by: "bob") else { Issue.record("second"); return }
        #expect(second.contains("already being resolved: committed by alice"))
        await Self.resolve(registry, "s", as: .committed, by: "alice")
        guard case .refused(let third) = claim(.aborted, by: "bob") else { Issue.record("third"); return }
        #expect(third.contains("is committed (resolved by alice)"))
        let unknown = registry.claimResolution("nobody", ResolutionProposal(outcome: .aborted, reason: "r", operator: "bob"), approving: false)
        guard case .notFound = unknown else { Issue.record("unknown"); return }
    }

    /// A drain stops admissions in the registry itself, under the lock that admits: a Submit that
    /// passed the service's draining check just before the drain began is refused, never admitted
    /// after the drivers' stream has closed, where nothing would drive it.
    @Test func aDrainStopsAdmissionsAtTheRegistry() async {
        let registry = Self.registry()
        guard case .admitted = await Self.admit(registry, Self.spec("a"), at: 0) else { Issue.record("a"); return }
        registry.stopAdmitting()
        guard case .stopped = await Self.admit(registry, Self.spec("b"), at: 1) else { Issue.record("b admitted while draining"); return }
        guard case .existing = await Self.admit(registry, Self.spec("a"), at: 2) else { Issue.record("a is still known"); return }
        #expect(registry.entry("b") == nil)
    }

    @Test func unfinishedAcceptedRecordsAreBoundedByTheCheckpointBudget() async {
        let recordBytes = Self.accepted(Self.spec("a"), at: 0).entry().payload.count
        let registry = Self.registry(unfinishedRecordBytesMax: recordBytes * 3 / 2)
        guard case .admitted = await Self.admit(registry, Self.spec("a"), at: 0) else { Issue.record("a"); return }
        guard case .full(let why) = await Self.admit(registry, Self.spec("b"), at: 1) else { Issue.record("b"); return }
        #expect(why.contains("\(recordBytes) of \(recordBytes * 3 / 2) bytes"))
        await Self.finish(registry, "a", .stuck, at: 2)
        guard case .full = await Self.admit(registry, Self.spec("b"), at: 3) else {
            Issue.record("a stuck transfer still travels in every checkpoint")
            return
        }
        _ = registry.claimResolution("a", ResolutionProposal(outcome: .aborted, reason: "r", operator: "alice"), approving: false)
        await Self.resolve(registry, "a", as: .aborted, by: "alice")
        guard case .full = await Self.admit(registry, Self.spec("b"), at: 4) else {
            Issue.record("resolved but pinned until swept, it still travels in every checkpoint")
            return
        }
        registry.sweptClean(at: "bank-a", preparedTransferIDs: [], sweepToken: registry.sweepStarted())
        guard case .admitted = await Self.admit(registry, Self.spec("b"), at: 5) else { Issue.record("freed"); return }
    }

    /// A checkpoint and the replay of every record rebuild the same registry, and recovery hands
    /// back exactly the transfers to drive again.
    @Test func recoveryFromACheckpointEqualsRecoveryFromTheWholeLog() async throws {
        let log = MemoryRecordLog(sealsAtOnce: true)
        let registry = TransferRegistry(log: log, inFlightMax: 100, rememberedMax: 100)
        for index in 0..<5 { await Self.admit(registry, Self.spec("t-\(index)"), at: Int64(index)) }
        try await registry.append(.commit(transferID: "t-0"))
        await Self.finish(registry, "t-0", .committed, at: 10)
        try await registry.append(.abort(transferID: "t-1", reason: "refused"))
        await Self.finish(registry, "t-4", .stuck, at: 11)
        _ = try await registry.appendCheckpoint()
        try await registry.append(.commit(transferID: "t-2"))
        await Self.finish(registry, "t-1", .aborted, at: 12)

        let (checkpoint, afterCheckpoint) = log.recoveryRecords()
        #expect(checkpoint != nil && afterCheckpoint.count == 2, "recovery reads only what follows the checkpoint")
        let fromCheckpoint = TransferRegistry(log: MemoryRecordLog(sealsAtOnce: true), inFlightMax: 100, rememberedMax: 100)
        let resumed = try fromCheckpoint.recover(checkpoint: checkpoint, records: afterCheckpoint)
        let fromStart = TransferRegistry(log: MemoryRecordLog(sealsAtOnce: true), inFlightMax: 100, rememberedMax: 100)
        let resumedFromStart = try fromStart.recover(checkpoint: nil, records: log.sealedRecords)
        #expect(Set(resumed.map(\.spec.id)) == ["t-2", "t-3"] && Set(resumedFromStart.map(\.spec.id)) == ["t-2", "t-3"])
        for index in 0..<5 {
            let id = "t-\(index)"
            #expect(fromCheckpoint.entry(id).map(Snapshot.init) == registry.entry(id).map(Snapshot.init), "\(id)")
            #expect(fromStart.entry(id).map(Snapshot.init) == registry.entry(id).map(Snapshot.init), "\(id)")
        }
        #expect(fromCheckpoint.inFlightCount == 2 && fromStart.inFlightCount == 2, "t-2 and t-3; the stuck one is final")
        #expect(resumed.first { $0.spec.id == "t-2" }?.decision == .commit)
        // Checkpoints written before the decision was an enum stored the same string.
        let stored = try #require(resumed.first { $0.spec.id == "t-2" }.map { try JSONEncoder().encode($0) })
        #expect(String(decoding: stored, as: UTF8.self).contains(#""decision":"commit""#))
    }

    /// Found by review: recovery restored finished transfers in dictionary order, so a random set
    /// of them was forgotten first and a client's retry of a recently finished id could be
    /// admitted again and move money twice. They come back in the order they finished.
    @Test func recoveryRemembersFinishedTransfersInTheOrderTheyFinished() async throws {
        let log = MemoryRecordLog(sealsAtOnce: true)
        let registry = TransferRegistry(log: log, inFlightMax: 100, rememberedMax: 100)
        func finish(_ index: Int) async {
            await Self.admit(registry, Self.spec("t-\(index)"), at: 1000)
            await Self.finish(registry, "t-\(index)", .committed, at: 2000 + Int64(index))
        }
        for index in 0..<10 { await finish(index) }
        _ = try await registry.appendCheckpoint()
        for index in 10..<12 { await finish(index) }
        let (checkpoint, records) = log.recoveryRecords()
        let recovered = TransferRegistry(log: log, inFlightMax: 10, rememberedMax: 5)
        #expect(try recovered.recover(checkpoint: checkpoint, records: records).isEmpty)
        await Self.admit(recovered, Self.spec("after"), at: 3000)
        await Self.finish(recovered, "after", .committed, at: 3001)
        let remembered = (0..<12).filter { recovered.entry("t-\($0)") != nil }
        #expect(remembered == [8, 9, 10, 11], "the newest are remembered, the oldest forgotten: \(remembered)")
    }

    /// An earlier admission's END, sealed after its id was forgotten and admitted again, must not
    /// finish the new admission.
    @Test func anEarlierAdmissionsEndDoesNotFinishTheNewOne() async throws {
        let log = MemoryRecordLog(sealsAtOnce: true)
        let registry = TransferRegistry(log: log, inFlightMax: 100, rememberedMax: 100)
        let spec = Self.spec("t")
        let first = Admission.random()
        let second = Admission.random()
        try await registry.append(.accepted(spec, admission: first, submittedAtMilliseconds: 1))
        try await registry.append(.accepted(spec, admission: second, submittedAtMilliseconds: 2))
        let late = FinalFacts(
            status: .committed, path: "2pc", reason: "", finishedAtMilliseconds: 3, branchStates: ["committed"], admission: first
        )
        try await registry.append(.end(transferID: spec.id, outcome: .committed, facts: late))
        #expect(registry.entry("t")?.status == .preparing, "live, as on replay")
        let (checkpoint, records) = log.recoveryRecords()
        let recovered = try TransferRegistry(log: log, inFlightMax: 100, rememberedMax: 100).recover(checkpoint: checkpoint, records: records)
        #expect(recovered.count == 1)
        #expect(recovered.first?.admission == second)
        #expect(recovered.first?.final == nil, "the second admission is still unfinished and will be resumed")
    }

    /// A checkpoint keeps every unfinished and stuck transfer, then finished ones newest first
    /// while they fit its byte budget; the oldest finished ones are left out, never an unfinished one.
    @Test func aCheckpointKeepsTheNewestFinishedTransfersWithinItsBudget() async throws {
        let log = MemoryRecordLog(sealsAtOnce: true)
        let registry = TransferRegistry(log: log, inFlightMax: 100, rememberedMax: 1000, checkpointBytesBudget: 4096)
        for index in 0..<20 {
            await Self.admit(registry, Self.spec("done-\(index)"), at: Int64(index))
            await Self.finish(registry, "done-\(index)", .committed, at: Int64(100 + index))
        }
        await Self.admit(registry, Self.spec("open"), at: 99)
        _ = try await registry.appendCheckpoint()
        let ids = try #require(log.recoveryRecords().checkpoint).unfinished.map(\.id)
        #expect(ids.first == "open", "the unfinished transfer comes first, whatever the budget")
        let kept = ids.dropFirst()
        #expect(!kept.isEmpty && kept.count < 20, "some finished ones fit, not all: \(kept.count)")
        #expect(Array(kept) == (0..<20).reversed().prefix(kept.count).map { "done-\($0)" }, "newest first: \(kept)")
        #expect(try #require(log.recoveryRecords().checkpoint).encoded().count <= 4096 + 64)
    }

    /// A two-phase commit's ending is told the moment END is enqueued (a restart re-drives phase
    /// two to the same end); a saga's only once sealed, since its re-drive may end otherwise.
    @Test(.timeLimit(.minutes(1)), arguments: [true, false])
    func anEndingIsToldBeforeItsSealOnlyForTwoPhaseCommit(twoPhase: Bool) async throws {
        let log = MemoryRecordLog(sealsAtOnce: false)
        let registry = TransferRegistry(log: log, inFlightMax: 10, rememberedMax: 10)
        func sealed<Result: Sendable>(_ work: @escaping @Sendable () async throws -> Result) async throws -> Result {
            let task = Task { try await work() }
            while log.waitingAppends == 0 { await Task.yield() }
            log.sealAll()
            return try await task.value
        }
        _ = try await sealed { await Self.admit(registry, Self.spec("e"), at: 1) }
        _ = try await sealed { try await registry.append(twoPhase ? .commit(transferID: "e") : .compensate(transferID: "e", reason: "r")) }
        let told = Atomic<Bool>(false)
        let waiter = Task {
            await registry.waitUntilFinal("e")
            told.store(true, ordering: .releasing)
        }
        while registry.waiterCount("e") == 0 { await Task.yield() }
        let outcome: TransferOutcome = twoPhase ? .committed : .compensated
        let facts = FinalFacts(
            status: twoPhase ? .committed : .compensated, path: "2pc", reason: "", finishedAtMilliseconds: 2, branchStates: ["x"],
            admission: registry.entry("e")?.admission
        )
        let end = Task { try await registry.append(.end(transferID: "e", outcome: outcome, facts: facts)) }
        while log.waitingAppends == 0 { await Task.yield() }
        if twoPhase {
            await waiter.value
            let toldBeforeSeal = told.load(ordering: .acquiring)
            #expect(toldBeforeSeal, "told while END waits for its seal")
            #expect(registry.entry("e")?.status == .committed)
        } else {
            for _ in 0..<1000 { await Task.yield() }
            let toldBeforeSeal = told.load(ordering: .acquiring)
            #expect(!toldBeforeSeal, "a compensation's ending is not told before it is sealed")
            #expect(registry.entry("e")?.status.isFinal == false, "nor shown to Get and List")
            let late = Task { await registry.waitUntilFinal("e") }
            while registry.waiterCount("e") < 2 { await Task.yield() }  // a caller arriving now waits too
            log.sealAll()
            await late.value
        }
        log.sealAll()
        _ = try await end.value
        await waiter.value
        let toldOnceSealed = told.load(ordering: .acquiring)
        #expect(toldOnceSealed)
    }

    /// Recovery seals the ABORTs of undecided transfers together (more of them than resume at
    /// once), exactly one each, and hands the transfers back oldest first with their own
    /// decision's LSN, whatever order the ABORTs were sealed in.
    @Test func recoveryAbortsEveryUndecidedTransferOnceAndResumesThemInOrder() async throws {
        let log = MemoryRecordLog(sealsAtOnce: true)
        let registry = TransferRegistry(log: log, inFlightMax: 10_000, rememberedMax: 10_000)
        let count = TransferRecovery.concurrentResumesMax * 2 + 7
        for index in 0..<count { await Self.admit(registry, Self.spec("t\(index)"), at: Int64(index)) }
        try await registry.append(.commit(transferID: "t5"))
        let (checkpoint, records) = log.recoveryRecords()
        let recovered = TransferRegistry(log: log, inFlightMax: 10_000, rememberedMax: 10_000)
        let resumed = try await TransferRecovery(registry: recovered, sagaTimeout: .seconds(1), logger: Self.logger)
            .resume(checkpoint: checkpoint, records: records)
        #expect(resumed.map(\.spec.id) == (0..<count).map { "t\($0)" }, "oldest first")
        let aborts = log.sealedRecords.compactMap { try? CoordinatorRecord($0) }.filter { if case .abort = $0 { true } else { false } }
        #expect(aborts.count == count - 1 && Set(aborts.map(\.transferID)).count == count - 1, "one ABORT each; t5 was decided")
        for start in resumed {
            let decision = log.sealedRecords.first { $0.lsn.rawValue == start.decisionLSN }.flatMap { try? CoordinatorRecord($0) }
            #expect(decision?.transferID == start.spec.id, "\(start.spec.id) resumes under its own decision")
            let expected: [TransferProtocol.Action] = start.spec.id == "t5" ? [.sendCommit([0])] : [.sendRollback([0])]
            #expect(start.firstActions == expected, "\(start.spec.id)")
        }
    }

    /// What the API reports of a transfer, compared across a restart.
    struct Snapshot: Equatable {
        let status: TransferStatus
        let reason: String
        let finishedAt: Int64?
        let path: String?
        let branchStates: [String]
        let decisionLSN: UInt64?

        init(_ entry: TransferEntry) {
            status = entry.status
            reason = entry.reason
            finishedAt = entry.finishedAtMilliseconds
            path = entry.finalPath
            // An unfinished transfer's branch states are live: a restarted registry starts over.
            branchStates = entry.status.isFinal ? entry.branchStates : []
            decisionLSN = entry.decisionLSN
        }
    }
}
