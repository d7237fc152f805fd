import Foundation
import SettleCore
import SettleTestSupport
import SignedLog
import Testing

@testable import SettleCoordinator

/// The console's timeline of a transfer reads the log from its ACCEPTED record to its last one.
/// A stuck transfer has no ending record, and its page used to read (and check every seal of)
/// everything sealed after it, on every view.
@Suite struct TransferTimelineTests {
    @Test func aStuckTransfersTimelineStopsAtItsLastRecord() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.subpath("log")
        let key = try SigningKey.generate()
        var configuration = SignedLogConfiguration()
        configuration.segmentBytesTarget = 2000
        let log = try await SignedLog.open(directory: path, signingKey: key, configuration: configuration)
        let spec = TransferSpec(id: "t", branches: [.init(participant: "bank-a", action: "debit", payload: Data("{}".utf8))])
        let accepted = try await log.append(
            CoordinatorRecord.accepted(spec, admission: Admission.random(), submittedAtMilliseconds: 1).entry()
        )
        let stuck = try await log.append(CoordinatorRecord.stuck(transferID: "t", reason: "refund keeps failing", facts: nil).entry())
        for index in 0..<40 {
            _ = try await log.append(CoordinatorRecord.commit(transferID: "other-\(index)").entry())
        }
        // A later record of it, past the bound the registry would give before it was appended.
        _ = try await log.append(CoordinatorRecord.retry(transferID: "t", operator: "alice").entry())
        await log.close()

        let reader = LogReader(directory: path, verifyingKey: nil)
        let keys = LogKeys([key.verifyingKey])
        func read(through: UInt64?) async throws -> [String] {
            try await TransferTimeline.read(
                transferID: "t", fromLSN: accepted.rawValue, throughLSN: through, reader: reader, keys: keys
            ).entries.map(\.type)
        }
        #expect(try await read(through: stuck.rawValue) == ["ACCEPTED", "STUCK"])
        #expect(try await read(through: nil) == ["ACCEPTED", "STUCK", "RETRY"], "unbounded, it reads to the end")

        // Damage the last segment: a bounded read never gets there.
        let segments = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".segment") }.sorted()
        #expect(segments.count > 2, "the records after it span segments")
        let last = path + "/" + (segments.last ?? "")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: last))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: last))
        #expect(try await read(through: stuck.rawValue) == ["ACCEPTED", "STUCK"])
        await #expect(throws: (any Error).self, "the unbounded read checks what follows") { try await read(through: nil) }
    }

    /// The bound the console passes: each transfer's own last record, whatever others append, and
    /// after a restart from a checkpoint, the first record after it.
    @Test func theRegistryKnowsEachTransfersLastRecord() async throws {
        let log = MemoryRecordLog(sealsAtOnce: true)
        let registry = TransferRegistry(log: log, inFlightMax: 10, rememberedMax: 10)
        await TransferRegistryTests.admit(registry, TransferRegistryTests.spec("t"), at: 0)
        await TransferRegistryTests.finish(registry, "t", .stuck, at: 1)
        let stuckLSN = try #require(log.sealedRecords.last?.lsn.rawValue)
        await TransferRegistryTests.admit(registry, TransferRegistryTests.spec("u"), at: 2)
        await TransferRegistryTests.finish(registry, "u", .committed, at: 3)
        #expect(registry.entry("t")?.lastRecordLSN == stuckLSN)

        _ = try await registry.appendCheckpoint()
        await TransferRegistryTests.admit(registry, TransferRegistryTests.spec("v"), at: 4)
        let (checkpoint, records) = log.recoveryRecords()
        let rebuilt = TransferRegistry(log: MemoryRecordLog(sealsAtOnce: true), inFlightMax: 10, rememberedMax: 10)
        _ = try rebuilt.recover(checkpoint: checkpoint, records: records)
        let afterCheckpoint = try #require(records.first?.lsn.rawValue)
        #expect(stuckLSN < afterCheckpoint && rebuilt.entry("t")?.lastRecordLSN == afterCheckpoint)

        // Nothing after the checkpoint: the log's end is the bound.
        let bare = TransferRegistry(log: MemoryRecordLog(sealsAtOnce: true), inFlightMax: 10, rememberedMax: 10)
        _ = try bare.recover(checkpoint: checkpoint, records: [], logEnd: afterCheckpoint - 1)
        #expect(bare.entry("t")?.lastRecordLSN == afterCheckpoint - 1)
    }
}
