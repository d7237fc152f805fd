import Foundation
import Logging
import SettleCore
import SettleTestSupport
import SignedLog
import Testing

@testable import SettleCoordinator

/// A log written on 2026-12-01 (Fixtures/log-2026-12-01: every ending and every decision a
/// transfer can be left in, a checkpoint among them, sealed with a test-only key) still recovers
/// as it did then. A change to the record format that breaks existing logs fails here.
@Suite("logs written by earlier versions")
struct LogCompatibilityTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/log-2026-12-01").path

    @Test func aLogFromTheFirstOfDecemberRecoversEveryTransfer() async throws {
        let directory = try TemporaryDirectory()
        try FileManager.default.copyItem(atPath: Self.fixture + "/log", toPath: directory.subpath("log"))
        let key = try SigningKey(pem: Array(try Data(contentsOf: URL(fileURLWithPath: Self.fixture + "/test-only-signing-key.pem"))))
        let log = try await SignedLog.open(directory: directory.subpath("log"), signingKey: key)
        let configuration = CoordinatorConfiguration(
            coordinatorID: "fixture", listen: "127.0.0.1:0", metricsListen: "127.0.0.1:0", logDirectory: directory.subpath("log"),
            signingKey: Self.fixture + "/test-only-signing-key.pem", clients: [], participants: []
        )
        let coordinator = Coordinator(
            configuration: configuration, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), renderMetrics: { [] }
        )
        let table = TransferRegistry(log: log, inFlightMax: 100, rememberedMax: 100)
        let resumed = try await coordinator.recover(log: log, registry: table)
        await log.close()

        let first = Dictionary(uniqueKeysWithValues: resumed.map { ($0.spec.id, $0.firstActions) })
        #expect(first["decided-commit"] == [.sendCommit([0, 1])])
        #expect(first["aborting"] == [.sendRollback([0, 1])])
        #expect(first["undecided"] == [.sendRollback([0, 1])], "presumed abort")
        #expect(first["saga"] == [.sendPrepare([0, 1], untilPrepareDeadline: false), .armSagaDeadline])
        #expect(first["compensating"] == [.sendRollback([0, 1])], "COMPENSATE after the checkpoint, SAGA before it")
        #expect(Set(first.keys) == ["decided-commit", "aborting", "undecided", "saga", "compensating"])

        #expect(table.entry("committed")?.status == .committed)
        #expect(table.entry("committed")?.finishedAtMilliseconds == 1_796_000_001_000, "END's sealed facts")
        #expect(table.entry("undecided")?.reason == "the coordinator restarted before deciding")
        #expect(table.entry("stuck")?.status == .stuck)
        #expect(table.entry("resolved")?.status == .compensated)
        #expect(table.entry("resolved")?.resolvedBy == "ops@bank")
        #expect(table.entry("saga")?.spec.policy == TransferSpec.Policy(onPrepareTimeout: .saga, prepareTimeoutMilliseconds: 500))
    }
}
