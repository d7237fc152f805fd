import Foundation
import PostgresClient
import SettleTestSupport
import Testing
@testable import SignedLog

/// The recovery log kept in PostgreSQL (issue "Failover"): the same frames, chain and seals as
/// files, fenced by the coordinator's lease. Against a real cluster from tools/pg.
@Suite struct PostgresLogTests {
    /// A coordinator id no other test uses, and its log's location.
    struct Place {
        let coordinatorID = TestClusters.uniqueName("log").replacingOccurrences(of: "_", with: "-")
        let url: String
        var location: String { "\(url)#\(coordinatorID)" }

        init() throws { url = try TestClusters.url() }

        func acquire(holder: String = "test", duration: Duration = .seconds(30)) async throws -> CoordinatorLease {
            let connection = try await PostgresConnection.connect(to: url)
            defer { Task { await connection.close() } }
            guard
                case .acquired(let lease) = try await CoordinatorLease.tryAcquire(
                    coordinatorID: coordinatorID, holder: holder, duration: duration, on: connection
                )
            else {
                Issue.record("the lease of \(coordinatorID) was held by another")
                throw CancellationError()
            }
            return lease
        }

        func open(_ key: SigningKey, epoch: UInt32, segmentBytes: Int = 64 << 20) async throws -> SignedLog {
            var configuration = SignedLogConfiguration()
            configuration.leaseEpoch = epoch
            configuration.segmentBytesTarget = segmentBytes
            return try await SignedLog.open(directory: location, signingKey: key, configuration: configuration)
        }

        @discardableResult
        func sql(_ statement: String, _ parameters: PostgresParameters = []) async throws -> PostgresRows {
            let connection = try await PostgresConnection.connect(to: url)
            let rows = try await connection.query(statement, parameters)
            await connection.close()
            return rows
        }
    }

    @Test func aLogInPostgresReopensReadsBackAndVerifiesAsTheSameBytesFilesWouldHold() async throws {
        let place = try Place()
        let lease = try await place.acquire()
        let key = try SigningKey.generate()
        let log = try await place.open(key, epoch: lease.epoch, segmentBytes: 600)
        for batch in 0..<6 { _ = try await log.append(contentsOf: (0..<3).map { entry("batch \(batch) record \($0)") }) }
        _ = try await log.appendCheckpoint(Checkpoint(unfinished: []))
        await log.close()

        let reopened = try await place.open(key, epoch: lease.epoch, segmentBytes: 600)
        #expect(reopened.openReport.lastSealedLSN == LSN(rawValue: 19))
        #expect(reopened.openReport.segmentCount > 1, "a 600-byte segment target rolls segments")
        #expect(try await reopened.append(entry("after reopening")) == LSN(rawValue: 20))
        let (checkpoint, afterCheckpoint) = try await reopened.recoveryRecords()
        #expect(checkpoint != nil)
        #expect(texts(afterCheckpoint) == ["after reopening"])
        await reopened.close()

        let summary = try LogAuditor(directory: place.location, verifyingKey: key.verifyingKey).verify()
        #expect(summary.recordCount == 20)
        #expect(try readAll(place.location, key: key.verifyingKey).count == 20)

        // The rows hold exactly a file log's bytes: written out as segment files, they verify too.
        let files = try TemporaryDirectory()
        let source = try PostgresSegmentSource(connection: place.url, logName: place.coordinatorID)
        for number in try source.segmentNumbers() {
            let bytes = try source.readSegment(number)
            #expect(FileManager.default.createFile(atPath: files.subpath(SegmentDirectory.segmentName(number)), contents: Data(bytes)))
        }
        let fromFiles = try LogAuditor(directory: files.path, verifyingKey: key.verifyingKey).verify()
        #expect(fromFiles.lastSeal == summary.lastSeal)
    }

    @Test func aCoordinatorWhoseLeaseWasTakenSealsNothingMore() async throws {
        let place = try Place()
        let first = try await place.acquire(holder: "first", duration: .milliseconds(300))
        let key = try SigningKey.generate()
        let deposed = try await place.open(key, epoch: first.epoch)
        _ = try await deposed.append(entry("sealed by the first"))

        try await Task.sleep(for: .milliseconds(400))
        let second = try await place.acquire(holder: "second")
        #expect(second.epoch == first.epoch + 1)
        await #expect {
            try await deposed.append(entry("sealed after the takeover"))
        } throws: { error in
            (error as? SignedLogError)?.code == .deposed && "\(error)".contains("no longer holds its lease")
        }
        await deposed.close()
        let batches = try await place.sql("SELECT epoch FROM settle_log_batches WHERE log_name = $1", [place.coordinatorID])
        #expect(try batches.map { try $0.decode(Int64.self, column: 0) } == [Int64(first.epoch)])

        await #expect(throws: SignedLogError.self, "opening under the old epoch is refused") {
            try await place.open(key, epoch: first.epoch)
        }
        let successor = try await place.open(key, epoch: second.epoch)
        #expect(try await successor.append(entry("sealed by the second")) == LSN(rawValue: 2))
        await successor.close()
        #expect(try LogAuditor(directory: place.location, verifyingKey: key.verifyingKey).verify().recordCount == 2)
    }

    @Test func theLeaseIsHeldUntilItExpiresOrIsReleased() async throws {
        let place = try Place()
        let connection = try await PostgresConnection.connect(to: place.url)
        let lease = try await place.acquire(holder: "active", duration: .seconds(30))
        let refused = try await CoordinatorLease.tryAcquire(
            coordinatorID: place.coordinatorID, holder: "standby", duration: .seconds(30), on: connection
        )
        guard case .heldByAnother(let holder, let epoch, let expiresIn) = refused else {
            Issue.record("a held lease was taken: \(refused)")
            return
        }
        #expect(holder == "active" && epoch == lease.epoch)
        #expect(expiresIn > .seconds(25) && expiresIn <= .seconds(30))
        #expect(try await lease.renew(for: .seconds(30), on: connection))

        try await lease.release(on: connection)
        guard
            case .acquired(let taken) = try await CoordinatorLease.tryAcquire(
                coordinatorID: place.coordinatorID, holder: "standby", duration: .seconds(30), on: connection
            )
        else {
            Issue.record("a released lease was not taken")
            return
        }
        #expect(taken.epoch == lease.epoch + 1)
        #expect(try await lease.renew(for: .seconds(30), on: connection) == false, "the old holder learns it lost the lease")
        await connection.close()
    }

    @Test func anAlteredOrMissingBatchRowFailsTheAudit() async throws {
        let place = try Place()
        let lease = try await place.acquire()
        let key = try SigningKey.generate()
        let log = try await place.open(key, epoch: lease.epoch)
        for batch in 0..<4 { _ = try await log.append(entry("batch \(batch)")) }
        await log.close()

        try await place.sql(
            "UPDATE settle_log_batches SET frames = overlay(frames placing '\\x58'::bytea from 20) WHERE log_name = $1 AND seal_number = 2",
            [place.coordinatorID]
        )
        #expect(throws: SignedLogError.self) { try LogAuditor(directory: place.location, verifyingKey: key.verifyingKey).verify() }
        await #expect(throws: SignedLogError.self, "a coordinator does not extend an altered log") {
            try await place.open(key, epoch: lease.epoch)
        }

        try await place.sql("DELETE FROM settle_log_batches WHERE log_name = $1 AND seal_number = 2", [place.coordinatorID])
        #expect {
            try LogAuditor(directory: place.location, verifyingKey: key.verifyingKey).verify()
        } throws: { error in
            (error as? SignedLogError)?.code == .corrupted && "\(error)".contains("record has LSN 3 where LSN 2 must follow")
        }
    }
}

@Suite struct LogLocationTests {
    @Test func aPostgresLocationNeverPrintsItsPassword() throws {
        let inUser = try LogLocation("postgres://settle:secret@db/settle#coord-a")
        #expect("\(inUser)" == "postgres://settle:***@db/settle#coord-a")
        let inQuery = try LogLocation("postgres://settle@db/settle?sslmode=require&password=secret&sslpassword=other#coord-a")
        #expect(!"\(inQuery)".contains("secret") && !"\(inQuery)".contains("other"))
        #expect("\(inQuery)".contains("sslmode=require"))
        #expect(inQuery.text.contains("password=secret"), "the text libpq is given keeps it")
    }

    @Test func aDirectoryIsADirectoryAndABadLogNameIsRefused() throws {
        #expect(try LogLocation("/var/lib/settle/log") == .directory("/var/lib/settle/log"))
        #expect(throws: SignedLogError.self) { try LogLocation("postgres://db/settle#bad name") }
    }
}
