import Foundation
import SettleTestSupport
import Testing
@testable import SignedLog

@Suite("Torn tails: a crash at any byte of the last two batches")
struct TornTailTests {
    /// Cuts the segment at every offset inside the last two batches. Each reopen must keep exactly
    /// the records under the last complete seal, move the rest aside byte for byte, continue the
    /// chain with the next append, and pass the audit.
    @Test func truncationAtEveryOffsetRecoversToTheLastCompleteSeal() async throws {
        let built = try await BatchedLog.make(batches: [["one", "two"], ["three"], ["four", "five", "six"], ["seven", "eight"]])
        let original = try readBytes(built.segmentPath)
        let secondToLastStart = built.batchEnds[built.batchEnds.count - 3]
        let scratch = built.directory.subpath("scratch")
        for cut in secondToLastStart..<original.count {
            try copyDirectory(built.logPath, to: scratch)
            let segment = scratch + "/" + SegmentDirectory.segmentName(0)
            try writeBytes(Array(original[..<cut]), to: segment)

            let completeBatches = built.batchEnds.lastIndex(where: { $0 <= cut }).map { $0 + 1 } ?? 0
            let sealedEnd = completeBatches == 0 ? built.headerEnd : built.batchEnds[completeBatches - 1]
            let keptPayloads = built.payloads(ofBatches: completeBatches)

            let log = try await SignedLog.open(directory: scratch, signingKey: built.key)
            #expect(log.openReport.lastSealedLSN.rawValue == UInt64(keptPayloads.count), "cut at \(cut)")
            #expect(texts(try await log.records(from: .first)) == keptPayloads, "cut at \(cut)")
            if cut > sealedEnd {
                let torn = try #require(log.openReport.tornTailFile, "cut at \(cut)")
                #expect(try readBytes(torn) == Array(original[sealedEnd..<cut]), "cut at \(cut)")
            } else {
                #expect(log.openReport.tornTailFile == nil, "cut at \(cut)")
            }
            #expect(try fileSize(segment) == sealedEnd, "cut at \(cut)")
            let next = try await log.append(entry("after the crash"))
            #expect(next.rawValue == UInt64(keptPayloads.count + 1), "cut at \(cut)")
            await log.close()

            let summary = try LogAuditor(directory: scratch, verifyingKey: built.key.verifyingKey).verify()
            #expect(summary.recordCount == keptPayloads.count + 1, "cut at \(cut)")
            #expect(texts(try readAll(scratch, key: built.key.verifyingKey)) == keptPayloads + ["after the crash"])
        }
    }

    /// Zeros after the last seal (a file extended by the file system but never written) are a torn
    /// tail too.
    @Test func zeroFilledTailIsMovedAside() async throws {
        let built = try await BatchedLog.make(batches: [["a"], ["b"]])
        var bytes = try readBytes(built.segmentPath)
        bytes += [UInt8](repeating: 0, count: 4096)
        try writeBytes(bytes, to: built.segmentPath)
        let log = try await SignedLog.open(directory: built.logPath, signingKey: built.key)
        #expect(log.openReport.tornTailByteCount == 4096)
        #expect(texts(try await log.records(from: .first)) == ["a", "b"])
        await log.close()
    }

    /// Damage followed by a valid seal cannot be a torn write: opening refuses, naming the place.
    @Test func damageBeforeAValidSealRefusesToOpen() async throws {
        let built = try await BatchedLog.make(batches: [["a"], ["b"], ["c"]])
        var bytes = try readBytes(built.segmentPath)
        let damaged = built.batchEnds[0] + 20  // inside record "b"
        bytes[damaged] ^= 0x40
        try writeBytes(bytes, to: built.segmentPath)
        let error = await #expect(throws: SignedLogError.self) {
            try await SignedLog.open(directory: built.logPath, signingKey: built.key)
        }
        #expect(error?.code == .corrupted)
        #expect(error?.segment == SegmentDirectory.segmentName(0))
        #expect(error?.offset == built.batchEnds[0])
        #expect(try readBytes(built.segmentPath) == bytes, "a refused open must not touch the segment")
    }
}
