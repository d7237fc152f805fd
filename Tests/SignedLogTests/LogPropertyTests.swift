import Foundation
import PropertyBased
import SettleTestSupport
import Testing

@testable import SignedLog

/// The byte format, as properties over generated records and logs.
@Suite("The log format, as properties")
struct LogPropertyTests {
    static let payloads = Gen<UInt8>.value().array(of: 0...300)

    /// A record frame decodes to exactly the record that was encoded, its chain hash included.
    @Test func aRecordFrameRoundTrips() async {
        await propertyCheck(
            count: 500, input: Gen<UInt64>.value(in: 1...LogFormat.sequenceMax), Gen<UInt16>.value(in: 0x0100...0xFFFF),
            Gen<Int64>.value(), Self.payloads
        ) { lsn, type, time, payload in
            var frames: [UInt8] = []
            let previous = SHA256Digest(hashing: payload.reversed())
            let (record, leaf) = FrameCodec.encodeRecord(
                lsn: LSN(rawValue: lsn), entry: LogEntry(type: RecordType(rawValue: type), payload: payload),
                appendedAtNanoseconds: time, previousChainHash: previous, into: &frames
            )
            guard case .record(let decoded, let body, let frameByteCount) = FrameCodec.decode(frames, at: 0) else {
                Issue.record("the frame does not decode as a record")
                return
            }
            #expect(decoded == record)
            #expect(frameByteCount == frames.count)
            #expect(MerkleHash.leaf(body) == leaf)
            #expect(FrameCodec.chainHash(previous: previous, hashedBody: body.dropLast(32)) == record.chainHash)
        }
    }

    /// protocol/recovery-log.md, "Verifying": a log cut anywhere verifies, with the open's rule,
    /// exactly up to the last seal before the cut (a cut inside the header is refused), and
    /// strictly only when the cut falls at a seal.
    @Test func anyPrefixOfALogIsAcceptedUpToItsLastSealAndNoFurther() async {
        await propertyCheck(
            count: 40, input: Gen<Int>.value(in: 1...4).array(of: 1...5), Self.payloads, Gen<Int>.value(in: 0...100_000)
        ) { batchSizes, payload, cutSeed in
            let directory = try TemporaryDirectory()
            let key = try SigningKey.generate()
            let logPath = directory.subpath("log")
            let segment = logPath + "/" + SegmentDirectory.segmentName(0)
            let log = try await SignedLog.open(directory: logPath, signingKey: key)
            var ends: [(byteCount: Int, records: Int)] = [(LogFormat.segmentHeaderByteCountMin, 0)]
            for (batch, size) in batchSizes.enumerated() {
                let entries = (0..<size).map { _ in LogEntry(type: RecordType(rawValue: 0x0100), payload: payload + [UInt8(batch)]) }
                _ = try await log.append(contentsOf: entries)
                ends.append((try fileSize(segment), ends[ends.count - 1].records + size))
            }
            await log.close()
            let bytes = try readBytes(segment)
            let cut = cutSeed % (bytes.count + 1)
            try writeBytes(Array(bytes.prefix(cut)), to: segment)

            let expected = ends.last(where: { end in end.byteCount <= cut })
            var live = LogAuditor(directory: logPath, verifyingKey: key.verifyingKey)
            live.allowsUnsealedTail = true
            let liveSummary = try? live.verify()
            #expect(liveSummary?.recordCount == expected?.records, "cut at \(cut) of \(bytes.count)")
            let strictSummary = try? LogAuditor(directory: logPath, verifyingKey: key.verifyingKey).verify()
            let atASeal = ends.contains(where: { end in end.byteCount == cut })
            #expect((strictSummary != nil) == atASeal, "cut at \(cut); seals end at \(ends.map { end in end.byteCount })")
        }
    }
}
