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

        let resolving = Task { await TransferRegistryTests.resolve(registry, "t", as: .committed, by: "alice") }
        while log.waitingAppends == 0 { await Task.yield() }
        let unsealed = registry.entry("t")
        #expect(unsealed?.status == .stuck, "until MANUAL is sealed the transfer is reported stuck")
        #expect(Coordinator.sweepVerdict(for: gid, at: "bank-a", entry: unsealed) == .leave)

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
