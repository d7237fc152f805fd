import Foundation
import Synchronization
import SettleTestSupport
import Testing
@testable import SignedLog

@Suite("Appending, reopening and reading the log")
struct SignedLogTests {
    @Test func appendCloseReopenReadGivesIdenticalRecordsAndLSNs() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.subpath("log")
        let key = try SigningKey.generate()
        let log = try await SignedLog.open(directory: path, signingKey: key)
        #expect(log.openReport.lastSealedLSN == .none)
        var appended: [(LSN, LogEntry)] = []
        for index in 0..<20 {
            let item = LogEntry(
                type: RecordType(rawValue: 0x0100 + UInt16(index % 3)),
                payload: index == 7 ? [] : Array("record \(index) ".utf8) + [0, 0xFF, UInt8(index)]
            )
            appended.append((try await log.append(item), item))
        }
        #expect(appended.map(\.0.rawValue) == Array(1...20))
        #expect(log.lastSealedLSN == 20)
        let beforeClose = try await log.records(from: .first)
        await log.close()

        let reopened = try await SignedLog.open(directory: path, signingKey: key)
        #expect(reopened.openReport.lastSealedLSN == 20)
        #expect(reopened.openReport.tornTailFile == nil)
        let records = try await reopened.records(from: .first)
        #expect(records == beforeClose)
        #expect(records.map(\.lsn) == appended.map(\.0))
        #expect(records.map(\.entry) == appended.map(\.1))
        #expect(try await reopened.records(from: 15).map(\.lsn.rawValue) == Array(15...20))
        #expect(try await reopened.append(entry("after reopen")) == 21)
        await reopened.close()
        #expect(try readAll(path, key: key.verifyingKey).count == 21)
    }

    @Test func concurrentAppendersShareSealsAndGetEveryLSNOnce() async throws {
        let directory = try TemporaryDirectory()
        let key = try SigningKey.generate()
        let log = try await SignedLog.open(directory: directory.subpath("log"), signingKey: key)
        let lsns = try await withThrowingTaskGroup(of: (LSN, String).self) { group in
            for index in 0..<500 {
                group.addTask { (try await log.append(entry("concurrent \(index)")), "concurrent \(index)") }
            }
            return try await group.reduce(into: [(LSN, String)]()) { $0.append($1) }
        }
        await log.close()
        #expect(Set(lsns.map(\.0)) == Set((1...500).map { LSN(rawValue: $0) }))
        let records = try readAll(directory.subpath("log"), key: key.verifyingKey)
        let byLSN = Dictionary(uniqueKeysWithValues: lsns)
        #expect(records.allSatisfy { byLSN[$0.lsn] == String(decoding: $0.payload, as: UTF8.self) })
        let summary = try LogAuditor(directory: directory.subpath("log"), verifyingKey: key.verifyingKey).verify()
        #expect(summary.recordCount == 500)
        // Group commit: far fewer seals (signatures and fdatasyncs) than records.
        #expect(summary.sealCount < 250, "\(summary.sealCount) seals for 500 concurrent records")
    }

    @Test func segmentsRollOverAndReadAcrossThem() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.subpath("log")
        let key = try SigningKey.generate()
        var configuration = SignedLogConfiguration()
        configuration.segmentBytesTarget = 1024
        let log = try await SignedLog.open(directory: path, signingKey: key, configuration: configuration)
        for index in 0..<60 { _ = try await log.append(entry("segment filler \(index) " + String(repeating: "x", count: 40))) }
        await log.close()
        let segments = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".segment") }
        #expect(segments.count >= 5, "\(segments)")
        // A segment stops growing with the batch that crosses the target: one record and a seal.
        let oneBatch = 8 + LogFormat.recordBodyByteCountMin + 60 + 8 + LogFormat.sealBodyByteCountVersion2
        for name in segments { #expect(try fileSize(path + "/" + name) < 1024 + oneBatch) }

        let reopened = try await SignedLog.open(directory: path, signingKey: key, configuration: configuration)
        #expect(reopened.openReport.segmentCount == segments.count)
        #expect(reopened.openReport.lastSealedLSN == 60)
        #expect(try await reopened.records(from: 33).map(\.lsn.rawValue) == Array(33...60))
        #expect(try await reopened.append(entry("next")) == 61)
        await reopened.close()
        let summary = try LogAuditor(directory: path, verifyingKey: key.verifyingKey).verify()
        #expect(summary.recordCount == 61)
        #expect(summary.segmentCount == segments.count || summary.segmentCount == segments.count + 1)
    }

    @Test func recoveryReadsFromTheLastCheckpoint() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.subpath("log")
        let key = try SigningKey.generate()
        var configuration = SignedLogConfiguration()
        configuration.segmentBytesTarget = 600
        let log = try await SignedLog.open(directory: path, signingKey: key, configuration: configuration)
        for index in 0..<10 { _ = try await log.append(entry("before \(index)")) }
        let first = Checkpoint(unfinished: [.init(id: "t-1", state: [1])])
        _ = try await log.appendCheckpoint(first)
        for index in 0..<10 { _ = try await log.append(entry("between \(index)")) }
        let second = Checkpoint(unfinished: [.init(id: "t-2", state: [2, 2]), .init(id: "t-3", state: [])])
        let checkpointLSN = try await log.appendCheckpoint(second)
        // Enough to push later records into new segments: the checkpoint's LSN must travel in headers.
        for index in 0..<12 { _ = try await log.append(entry("after \(index) " + String(repeating: "y", count: 30))) }
        await log.close()

        let reopened = try await SignedLog.open(directory: path, signingKey: key, configuration: configuration)
        #expect(reopened.openReport.lastCheckpointLSN == checkpointLSN)
        #expect(reopened.openReport.segmentCount > 2)
        let (checkpoint, records) = try await reopened.recoveryRecords()
        #expect(checkpoint == second)
        #expect(texts(records) == (0..<12).map { "after \($0) " + String(repeating: "y", count: 30) })
        await reopened.close()
        let summary = try LogAuditor(directory: path, verifyingKey: key.verifyingKey).verify()
        #expect(summary.checkpointCount == 2)
    }

    @Test func aSecondWriterIsLockedOut() async throws {
        let directory = try TemporaryDirectory()
        let key = try SigningKey.generate()
        let log = try await SignedLog.open(directory: directory.subpath("log"), signingKey: key)
        let error = await #expect(throws: SignedLogError.self) {
            try await SignedLog.open(directory: directory.subpath("log"), signingKey: key)
        }
        #expect(error?.code == .inUse)
        await log.close()
        let again = try await SignedLog.open(directory: directory.subpath("log"), signingKey: key)
        await again.close()
    }

    @Test func refusesWhatItCannotHold() async throws {
        let directory = try TemporaryDirectory()
        var configuration = SignedLogConfiguration()
        configuration.recordPayloadBytesMax = 100
        configuration.batchRecordsMax = 4
        let log = try await SignedLog.open(
            directory: directory.subpath("log"), signingKey: SigningKey.generate(), configuration: configuration
        )
        let tooLarge = await #expect(throws: SignedLogError.self) {
            try await log.append(LogEntry(type: testRecordType, payload: [UInt8](repeating: 1, count: 101)))
        }
        #expect(tooLarge?.code == .recordTooLarge)
        let tooMany = await #expect(throws: SignedLogError.self) {
            try await log.append(contentsOf: (0..<5).map { entry("\($0)") })
        }
        #expect(tooMany?.code == .recordTooLarge)
        #expect(try await log.append(LogEntry(type: testRecordType, payload: [UInt8](repeating: 1, count: 100))) == 1)
        await log.close()
        let closed = await #expect(throws: SignedLogError.self) { try await log.append(entry("late")) }
        #expect(closed?.code == .closed)
    }

    /// More records than may wait for the writer are refused as a whole with queueFull, at once
    /// and deterministically (the count is checked before anything is queued); the log goes on.
    @Test func moreRecordsThanMayWaitAreRefusedWithQueueFull() async throws {
        let directory = try TemporaryDirectory()
        var configuration = SignedLogConfiguration()
        configuration.batchRecordsMax = 8
        configuration.queuedRecordsMax = 3
        let log = try await SignedLog.open(
            directory: directory.subpath("log"), signingKey: SigningKey.generate(), configuration: configuration
        )
        let full = await #expect(throws: SignedLogError.self) { try await log.append(contentsOf: (0..<4).map { entry("\($0)") }) }
        #expect(full?.code == .queueFull)
        #expect(try await log.append(contentsOf: (0..<3).map { entry("\($0)") }) == [1, 2, 3], "nothing of the refused four was written")
        await log.close()
    }

    @Test func aLogSealedByAnotherKeyIsRefused() async throws {
        let built = try await BatchedLog.make(batches: [["a"], ["b"]])
        let error = await #expect(throws: SignedLogError.self) {
            try await SignedLog.open(directory: built.logPath, signingKey: SigningKey.generate())
        }
        #expect(error?.code == .corrupted)
        #expect(error?.description.contains("key id") == true)
    }
}
