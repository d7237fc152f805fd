import Foundation
import SettleTestSupport
import Testing

@testable import SignedLog

/// `LogReader.forEachBatch(near:)`, the console's way into a large log: it yields exactly what
/// reading from the segment's start yields for the batches that reach the LSN, checks everything
/// from the seal before it on, and does not read the frames before that seal.
@Suite struct ReadingNearTests {
    struct Batch: Equatable {
        let seal: UInt64
        let lsns: [UInt64]
        let texts: [String]
    }

    static func batches(_ reader: LogReader, _ lsn: LSN, near: Bool) throws -> [Batch] {
        var batches: [Batch] = []
        let collect: ([LogRecord], LogSeal) throws -> Void = { records, seal in
            batches.append(Batch(seal: seal.number, lsns: records.map(\.lsn.rawValue), texts: texts(records)))
        }
        if near { try reader.forEachBatch(near: lsn, collect) } else { try reader.forEachBatch(from: lsn, collect) }
        return batches
    }

    /// Sixty single-record batches and two checkpoints over several segments.
    static func makeLog(_ directory: TemporaryDirectory) async throws -> (path: String, key: SigningKey) {
        let path = directory.subpath("log")
        let key = try SigningKey.generate()
        var configuration = SignedLogConfiguration()
        configuration.segmentBytesTarget = 2000
        let log = try await SignedLog.open(directory: path, signingKey: key, configuration: configuration)
        for index in 0..<60 {
            _ = try await log.append(entry("record \(index) " + String(repeating: "x", count: index % 7)))
            if index == 17 || index == 41 { _ = try await log.appendCheckpoint(Checkpoint(unfinished: [])) }
        }
        await log.close()
        return (path, key)
    }

    @Test func readingNearAnLSNYieldsWhatReadingFromTheSegmentStartYields() async throws {
        let directory = try TemporaryDirectory()
        let (path, key) = try await Self.makeLog(directory)
        let reader = LogReader(directory: path, verifyingKey: key.verifyingKey)
        #expect(try SegmentDirectory(path: path).segmentNumbers().count > 3, "the reads cross segments")
        for lsn in [1, 2, 9, 18, 19, 20, 33, 44, 61, 62] as [UInt64] {
            let near = try Self.batches(reader, LSN(rawValue: lsn), near: true)
            #expect(near == (try Self.batches(reader, LSN(rawValue: lsn), near: false)), "from LSN \(lsn)")
            #expect(near.first?.lsns.contains(lsn) == true || lsn > 62, "the first batch holds LSN \(lsn)")
        }
    }

    @Test func recordsFromTheSealBeforeOnAreCheckedAndThoseBeforeItAreNotRead() async throws {
        let directory = try TemporaryDirectory()
        let (path, key) = try await Self.makeLog(directory)
        let segments = SegmentDirectory(path: path)
        let number = try segments.segmentNumbers()[1]
        let segment = segments.segmentPath(number)
        let original = try readBytes(segment)
        let header = try segments.readHeader(of: number)
        var starts: [Int] = []
        var offset = header.byteCount
        while let frame = FrameCodec.peek(original, at: offset) {
            starts.append(offset)
            offset += frame.frameByteCount
        }
        #expect(starts.count >= 8)
        let reader = LogReader(directory: path, verifyingKey: key.verifyingKey)
        let firstLSNOfSegment = header.firstLSN
        // Frames 0 and 1 are the segment's first record and its seal; frames 4 and 5 a later pair.
        let target = LSN(rawValue: firstLSNOfSegment.rawValue + 2)

        var damagedEarly = original
        damagedEarly[starts[0] + 30] ^= 0x01
        try writeBytes(damagedEarly, to: segment)
        #expect(throws: SignedLogError.self) { try Self.batches(reader, target, near: false) }
        #expect(try Self.batches(reader, target, near: true).first?.lsns == [target.rawValue], "a frame before the seal is not read")

        var damagedTarget = original
        damagedTarget[starts[4] + 30] ^= 0x01
        try writeBytes(damagedTarget, to: segment)
        let error = #expect(throws: SignedLogError.self) { try Self.batches(reader, target, near: true) }
        #expect(error?.code == .corrupted, "\(String(describing: error))")
    }
}
