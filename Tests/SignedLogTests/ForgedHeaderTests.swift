import Foundation
import SettleTestSupport
import Testing

@testable import SignedLog

/// A segment header is not signed: opening the log trusts the last segment's header instead of
/// rescanning history, and a reader starts from the header of the first segment it reads. Someone
/// who can write the log's files could otherwise make `settled` seal on top of invented records
/// (its signed tree heads then vouch for them, and receipts for them verify), or make a reader
/// trap on numbers at the end of their range.
@Suite struct ForgedHeaderTests {
    /// Where the log stands at the end of segment `number`, as a scan from its header finds it.
    static func endOfSegment(_ path: String, _ number: UInt64, key: SigningKey) throws -> ChainPosition {
        let bytes = try readBytes(SegmentDirectory(path: path).segmentPath(number))
        guard case .success(let header) = SegmentHeader.decode(bytes) else { throw SignedLogError(.corrupted, "header") }
        return SegmentScanner(keys: LogKeys([key.verifyingKey])).scan(bytes, header: header) { _, _, _ in }.sealed
    }

    /// `position` with `count` invented records after it.
    static func invented(after position: ChainPosition, count: Int) -> ChainPosition {
        var forged = position
        for index in 0..<count {
            forged.tree?.append(leaf: SHA256Digest(hashing: Array("invented \(index)".utf8)))
        }
        forged.lastLSN = LSN(rawValue: position.lastLSN.rawValue + UInt64(count))
        forged.sealNumber += UInt64(count)
        forged.chainHash = SHA256Digest(hashing: Array("an invented chain".utf8))
        return forged
    }

    @Test func aLastSegmentWhoseHeaderInventsHistoryIsRefusedAtOpen() async throws {
        let directory = try TemporaryDirectory()
        let (path, key) = try await segmentedLog(in: directory)
        let segments = SegmentDirectory(path: path)
        let last = try #require(try segments.segmentNumbers().last)
        #expect(last >= 2)
        // The last segment replaced by a bare header that continues five records past the real end.
        let realEnd = try Self.endOfSegment(path, last, key: key)
        let forged = Self.invented(after: realEnd, count: 5).header(segmentNumber: last, createdAtNanoseconds: 0)
        try writeBytes(forged.encoded(), to: segments.segmentPath(last))
        let refused = await #expect(throws: SignedLogError.self) {
            _ = try await SignedLog.open(directory: path, signingKey: key)
        }
        #expect(refused?.code == .corrupted, "\(String(describing: refused))")
    }

    @Test func aFirstSegmentThatDoesNotBeginTheLogIsRefusedByOpenAndByReaders() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.subpath("log")
        let key = try SigningKey.generate()
        let log = try await SignedLog.open(directory: path, signingKey: key)
        for index in 0..<3 { _ = try await log.append(entry("record \(index)")) }
        await log.close()
        let segment = SegmentDirectory(path: path).segmentPath(0)
        let forged = Self.invented(after: .genesis, count: 9).header(segmentNumber: 0, createdAtNanoseconds: 0)
        try writeBytes(forged.encoded(), to: segment)
        await #expect(throws: SignedLogError.self) { _ = try await SignedLog.open(directory: path, signingKey: key) }
        #expect(throws: SignedLogError.self) { _ = try readAll(path, key: key.verifyingKey) }
    }

    @Test func numbersAtTheEndOfTheirRangeAreDamageNotATrap() async throws {
        let directory = try TemporaryDirectory()
        let (path, key) = try await segmentedLog(in: directory)
        let segments = SegmentDirectory(path: path)
        let number: UInt64 = 1
        var header = try segments.readHeader(of: number)
        let original = try readBytes(segments.segmentPath(number))
        header.sealNumberBefore = .max
        let forged = header.encoded() + original[header.byteCount...]
        try writeBytes(Array(forged), to: segments.segmentPath(number))
        let reader = LogReader(directory: path, verifyingKey: key.verifyingKey)
        #expect(throws: SignedLogError.self) {
            try reader.forEachBatch(near: header.firstLSN) { _, _ in }
        }
    }

    /// A segment's size comes from the disk: a sparse file claiming a terabyte is refused, not
    /// allocated.
    @Test func aSegmentLargerThanAnyTheWriterMakesIsRefusedUnread() async throws {
        let directory = try TemporaryDirectory()
        let (path, key) = try await segmentedLog(in: directory)
        let segments = SegmentDirectory(path: path)
        let last = try #require(try segments.segmentNumbers().last)
        let handle = try #require(FileHandle(forWritingAtPath: segments.segmentPath(last)))
        try handle.truncate(atOffset: 1 << 40)
        try handle.close()
        let refused = await #expect(throws: SignedLogError.self) { _ = try await SignedLog.open(directory: path, signingKey: key) }
        #expect(refused?.message.contains("no file Settle reads here is larger") == true, "\(String(describing: refused))")
        #expect(throws: SignedLogError.self) { try LogAuditor(directory: path, verifyingKey: key.verifyingKey).verify() }
    }
}
