import Foundation
import SettleTestSupport
@testable import SignedLog

let testRecordType = RecordType(rawValue: RecordType.firstApplicationCode)

func entry(_ text: String, type: RecordType = testRecordType) -> LogEntry {
    LogEntry(type: type, payload: Array(text.utf8))
}

/// A one-segment log written batch by batch, with the segment's size after each batch: the byte
/// boundaries that the torn-tail and tamper tests cut and flip around.
struct BatchedLog {
    let directory: TemporaryDirectory
    let key: SigningKey
    let batches: [[String]]
    /// Segment size after each batch; `batchEnds[i]` is where batch i's seal ends.
    let batchEnds: [Int]

    var logPath: String { directory.subpath("log") }
    var segmentPath: String { logPath + "/" + SegmentDirectory.segmentName(0) }
    var headerEnd: Int { LogFormat.segmentHeaderByteCountMin }

    /// The records of the first `count` batches, with their LSNs.
    func payloads(ofBatches count: Int) -> [String] { Array(batches.prefix(count).joined()) }

    static func make(
        batches: [[String]], key: SigningKey? = nil, configuration: SignedLogConfiguration = .init()
    ) async throws -> BatchedLog {
        let directory = try TemporaryDirectory()
        let key = try key ?? SigningKey.generate()
        let log = try await SignedLog.open(
            directory: directory.subpath("log"), signingKey: key, configuration: configuration
        )
        var ends: [Int] = []
        let segment = directory.subpath("log") + "/" + SegmentDirectory.segmentName(0)
        for batch in batches {
            _ = try await log.append(contentsOf: batch.map { entry($0) })
            ends.append(try fileSize(segment))
        }
        await log.close()
        return BatchedLog(directory: directory, key: key, batches: batches, batchEnds: ends)
    }
}

/// `count` records appended one by one (each its own seal) to a new log of small segments, which
/// the record texts (`"record <i> "` and filler) spill across; the log is closed.
func segmentedLog(
    in directory: TemporaryDirectory, count: Int = 20, segmentBytesTarget: Int = 400, filler: Int = 50
) async throws -> (path: String, key: SigningKey) {
    let path = directory.subpath("log")
    let key = try SigningKey.generate()
    var configuration = SignedLogConfiguration()
    configuration.segmentBytesTarget = segmentBytesTarget
    let log = try await SignedLog.open(directory: path, signingKey: key, configuration: configuration)
    for index in 0..<count { _ = try await log.append(entry("record \(index) " + String(repeating: "z", count: filler))) }
    await log.close()
    return (path, key)
}

func readAll(_ path: String, key: VerifyingKey?) throws -> [LogRecord] {
    var records: [LogRecord] = []
    try LogReader(directory: path, verifyingKey: key).forEachRecord(from: .first) { records.append($0) }
    return records
}

func texts(_ records: [LogRecord]) -> [String] { records.map { String(decoding: $0.payload, as: UTF8.self) } }

/// Frame start offsets in a segment (header excluded), found by walking the length prefixes.
func frameStarts(_ bytes: [UInt8]) -> [Int] {
    var starts: [Int] = []
    var offset = LogFormat.segmentHeaderByteCountMin
    while offset + 8 <= bytes.count {
        starts.append(offset)
        let length = bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
        offset += 8 + length
    }
    return starts
}
