import Foundation
import Logging
import SettleCore
import Testing

@testable import SettleCoordinator

/// An operator's resolution (MANUAL) is a decision like COMMIT: nothing may act on it before it is
/// sealed. The in-doubt sweep commits a branch left prepared under a transfer it reads as
/// committed; had it read MANUAL(committed) while unsealed and settled crashed before the seal,
/// the branch would be committed under a decision the log does not hold, and the operator could
/// then resolve the transfer otherwise.
@Suite struct ManualResolutionSealTests {
    @Test func aResolutionIsReportedAndSweptOnlyOnceSealed() async throws {
        let log = MemoryRecordLog(sealsAtOnce: false)
        let registry = TransferRegistry(log: log, inFlightMax: 10, rememberedMax: 10)
        await Self.sealing(log) { await TransferRegistryTests.admit(registry, TransferRegistryTests.spec("t"), at: 0) }
        await Self.sealing(log) { await TransferRegistryTests.finish(registry, "t", .stuck, at: 1) }
        let admission = try #require(registry.entry("t")?.admission)
        let gid = try BranchGID(coordinatorID: "coord", admission: admission, transferID: "t", branchIndex: 0)

        let alice = ResolutionProposal(outcome: .committed, reason: "r", operator: "alice")
        guard case .claimed = registry.claimResolution("t", alice, approving: false) else {
            Issue.record("alice's claim was refused")
            return
        }
        let resolving = Task { await TransferRegistryTests.resolve(registry, "t", as: .committed, by: "alice") }
        while log.waitingAppends == 0 { await Task.yield() }
        let unsealed = registry.entry("t")
        #expect(unsealed?.status == .stuck, "until MANUAL is sealed the transfer is reported stuck")
        #expect(Coordinator.sweepVerdict(for: gid, at: "bank-a", entry: unsealed) == .leave)
        let bob = ResolutionProposal(outcome: .aborted, reason: "r", operator: "bob")
        guard case .refused = registry.claimResolution("t", bob, approving: false) else {
            Issue.record("a second resolution was claimed while the first awaited its seal")
            return
        }

        log.sealAll()
        await resolving.value
        let sealed = registry.entry("t")
        #expect(sealed?.status == .committed && sealed?.resolvedBy == "alice")
        #expect(Coordinator.sweepVerdict(for: gid, at: "bank-a", entry: sealed) == .commit)
    }

    /// Runs `work`, sealing the log once it has enqueued its record.
    static func sealing<Value: Sendable>(_ log: MemoryRecordLog, _ work: @escaping @Sendable () async -> Value) async {
        let task = Task { await work() }
        while log.waitingAppends == 0 { await Task.yield() }
        log.sealAll()
        _ = await task.value
    }
}

/// A transfer an operator resolved may still have a branch prepared at a participant that was
/// unreachable (often why it got stuck). Only its entry tells the in-doubt sweep what the
/// resolution ordered for that branch; forgotten, the branch would be presumed aborted and rolled
/// back under a sealed MANUAL(committed). So it is kept until a sweep of each of its participants,
/// begun after the resolution, has found none of its branches prepared.
@Suite struct ResolvedTransferPinTests {
    @Test func aResolvedTransferIsKeptUntilEachParticipantIsSweptClean() async throws {
        let registry = TransferRegistryTests.registry(rememberedMax: 1)
        await TransferRegistryTests.admit(registry, TransferRegistryTests.spec("t"), at: 0)
        await TransferRegistryTests.finish(registry, "t", .stuck, at: 1)
        let admission = try #require(registry.entry("t")?.admission)
        let gid = try BranchGID(coordinatorID: "coord", admission: admission, transferID: "t", branchIndex: 0)
        let sweptBefore = registry.sweepStarted()
        await TransferRegistryTests.resolve(registry, "t", as: .committed, by: "alice")
        for index in 0..<3 {
            await TransferRegistryTests.admit(registry, TransferRegistryTests.spec("u\(index)"), at: Int64(index + 2))
            await TransferRegistryTests.finish(registry, "u\(index)", .committed, at: Int64(index + 2))
        }
        #expect(Coordinator.sweepVerdict(for: gid, at: "bank-a", entry: registry.entry("t")) == .commit, "still known, still committed")

        registry.sweptClean(at: "bank-a", preparedTransferIDs: [], sweepToken: sweptBefore)
        let sweeping = registry.sweepStarted()
        registry.sweptClean(at: "bank-a", preparedTransferIDs: ["t"], sweepToken: sweeping)
        registry.sweptClean(at: "bank-b", preparedTransferIDs: [], sweepToken: sweeping)
        await Self.finishAnother(registry, "v")
        #expect(registry.entry("t") != nil, "a sweep begun before the resolution, one that found it prepared, another participant's: all kept it")

        registry.sweptClean(at: "bank-a", preparedTransferIDs: [], sweepToken: registry.sweepStarted())
        await Self.finishAnother(registry, "w")
        #expect(registry.entry("t") == nil, "swept clean, it is forgotten like any finished transfer")
    }

    @Test func aCheckpointKeepsAResolvedTransferUntilSweptClean() async throws {
        let log = MemoryRecordLog(sealsAtOnce: true)
        // No room in a checkpoint for finished transfers (only unfinished, stuck and pinned ones).
        let registry = TransferRegistry(
            log: log, inFlightMax: 10, rememberedMax: 1, checkpointBytesBudget: 0, unfinishedRecordBytesMax: 1 << 20
        )
        await TransferRegistryTests.admit(registry, TransferRegistryTests.spec("t"), at: 0)
        await TransferRegistryTests.finish(registry, "t", .stuck, at: 1)
        await TransferRegistryTests.resolve(registry, "t", as: .committed, by: "alice")
        _ = try await registry.appendCheckpoint()
        let (checkpoint, records) = log.recoveryRecords()
        let rebuilt = TransferRegistry(log: MemoryRecordLog(sealsAtOnce: true), inFlightMax: 10, rememberedMax: 1)
        _ = try rebuilt.recover(checkpoint: checkpoint, records: records)
        await Self.finishAnother(rebuilt, "u")
        await Self.finishAnother(rebuilt, "v")
        #expect(rebuilt.entry("t")?.status == .committed, "kept through a checkpoint with no room for finished transfers")
        rebuilt.sweptClean(at: "bank-a", preparedTransferIDs: [], sweepToken: rebuilt.sweepStarted())
        await Self.finishAnother(rebuilt, "w")
        #expect(rebuilt.entry("t") == nil)
    }

    /// A participant no longer configured is never swept, so it cannot hold a pin: a transfer is
    /// pinned only until its configured participants are swept clean, and not at all when it
    /// names none.
    @Test func onlyConfiguredParticipantsHoldAPin() async throws {
        let registry = TransferRegistry(
            log: MemoryRecordLog(sealsAtOnce: true), inFlightMax: 10, rememberedMax: 1, sweptParticipants: ["bank-a"]
        )
        func spec(_ id: String, _ participants: [String]) -> TransferSpec {
            TransferSpec(id: id, branches: participants.map { .init(participant: $0, action: "debit", payload: Data("{}".utf8)) })
        }
        for (id, participants) in [("both", ["bank-a", "bank-gone"]), ("gone", ["bank-gone"])] {
            await TransferRegistryTests.admit(registry, spec(id, participants), at: 0)
            await TransferRegistryTests.finish(registry, id, .stuck, at: 1)
            await TransferRegistryTests.resolve(registry, id, as: .committed, by: "alice")
        }
        #expect(registry.pinnedCount == 1, "the transfer at the removed participant alone is not pinned")
        registry.sweptClean(at: "bank-a", preparedTransferIDs: [], sweepToken: registry.sweepStarted())
        #expect(registry.pinnedCount == 0, "bank-a swept clean releases the other")
    }

    static func finishAnother(_ registry: TransferRegistry, _ id: String) async {
        await TransferRegistryTests.admit(registry, TransferRegistryTests.spec(id), at: 50)
        await TransferRegistryTests.finish(registry, id, .committed, at: 50)
    }
}
