import Foundation
import SettleCore
import SettleTestSupport
import SignedLog
import Testing

@testable import SettleCoordinator

/// A saga resumed after a restart keeps the deadline its SAGA record sealed: restarts cannot
/// keep a saga going for ever. (`tools/chaos` seed 20261210 froze on exactly that: `settled`
/// killed every few seconds re-armed a full saga timeout at every start, and sagas whose late
/// branches waited on each other's prepared rows never compensated.)
@Suite("a resumed saga keeps its sealed deadline")
struct SagaDeadlineRecoveryTests {
    static let now: Int64 = 1_800_000_000_000

    @Test(arguments: [false, true])
    func recoveryResumesWhatIsLeftOfTheSagasTime(fromCheckpoint: Bool) async throws {
        let log = MemoryRecordLog(sealsAtOnce: true)
        let registry = TransferRegistry(log: log, inFlightMax: 10, rememberedMax: 10)
        let deadlines: [String: Int64?] = ["t-late": Self.now + 40_000, "t-overdue": Self.now - 1, "t-old-log": nil]
        for (id, deadline) in deadlines.sorted(by: { $0.key < $1.key }) {
            _ = await TransferRegistryTests.admit(registry, TransferRegistryTests.spec(id), at: Self.now - 90_000)
            try await registry.append(.saga(transferID: id, deadlineAtMilliseconds: deadline))
        }
        if fromCheckpoint { _ = try await registry.appendCheckpoint() }
        let (checkpoint, records) = log.recoveryRecords()
        #expect((checkpoint != nil) == fromCheckpoint)

        let rebuilt = TransferRegistry(log: MemoryRecordLog(sealsAtOnce: true), inFlightMax: 10, rememberedMax: 10)
        let starts = try await TransferRecovery(
            registry: rebuilt, sagaTimeout: .seconds(60), logger: TransferRegistryTests.logger, wallMilliseconds: { Self.now }
        )
        .resume(checkpoint: checkpoint, records: records)
        let timeLeft = Dictionary(uniqueKeysWithValues: starts.map { ($0.spec.id, $0.sagaTimeout) })
        #expect(timeLeft["t-late"] == .seconds(40), "what is left of the sealed deadline")
        #expect(timeLeft["t-overdue"] == .zero, "past its deadline: it compensates at once")
        #expect(timeLeft["t-old-log"] == .seconds(60), "a SAGA from before deadlines were sealed: the full timeout, as then")
    }
}
